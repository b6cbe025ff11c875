import { createMemoryQueue, createMemoryStore, type LogFields, type Logger } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows } from "./engine.js";
import { createFunction } from "./function.js";

/** A logger that keeps its info lines, to assert what a developer would read. */
function recordingLogger(lines: { message: string; fields?: LogFields }[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: (message, fields) => lines.push(fields === undefined ? { message } : { message, fields }),
    warn: () => {},
    error: () => {},
    child: () => logger,
  };
  return logger;
}

describe("an event no function takes", () => {
  it("is stored and logged by name, while a matched one is not logged", async () => {
    const lines: { message: string; fields?: LogFields }[] = [];
    const greet = createFunction(
      { id: "greet", triggers: [{ event: "user/created" }] },
      async () => "hi",
    );
    const flows = createFlows({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      functions: [greet],
      logger: recordingLogger(lines),
    });
    const { ids } = await flows.send([
      { name: "user/created", data: {} },
      { name: "user/craeted", data: {} },
    ]);
    const unmatched = lines.filter((line) => line.message === "flows: event matched no function");
    expect(unmatched).toEqual([
      {
        message: "flows: event matched no function",
        fields: { event: "user/craeted", eventId: ids[1] },
      },
    ]);
    await flows.stop();
  });
});
