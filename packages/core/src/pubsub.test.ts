import { describe, expect, it } from "vitest";
import type { Logger } from "./logger.js";
import { deliverToHandler } from "./pubsub.js";

function recordingLogger() {
  const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error(message: string, fields?: Record<string, unknown>) {
      errors.push({ message, fields });
    },
  } as unknown as Logger;
  return { logger, errors };
}

describe("deliverToHandler", () => {
  it("hands the message and channel to the handler", () => {
    const { logger, errors } = recordingLogger();
    const got: [number[], string][] = [];
    deliverToHandler(
      (message, channel) => void got.push([[...message], channel]),
      new Uint8Array([7]),
      "c",
      logger,
    );
    expect(got).toEqual([[[7], "c"]]);
    expect(errors).toEqual([]);
  });

  it("logs a handler's synchronous throw, naming the channel, and does not rethrow", () => {
    const { logger, errors } = recordingLogger();
    const boom = new Error("boom");
    expect(() =>
      deliverToHandler(
        () => {
          throw boom;
        },
        new Uint8Array(),
        "sync",
        logger,
      ),
    ).not.toThrow();
    expect(errors).toEqual([
      { message: "pubsub handler failed", fields: { channel: "sync", error: boom } },
    ]);
  });

  it("logs a handler's rejected promise, naming the channel", async () => {
    const { logger, errors } = recordingLogger();
    const boom = new Error("later");
    deliverToHandler(() => Promise.reject(boom), new Uint8Array(), "async", logger);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([
      { message: "pubsub handler failed", fields: { channel: "async", error: boom } },
    ]);
  });
});
