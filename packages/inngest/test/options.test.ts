import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { expect, it } from "vitest";
import { createInngestApi } from "../src/index.js";

const flows = createFlows({
  store: createMemoryStore(),
  queue: createMemoryQueue(),
  keepProcessAlive: false,
});

it.each([
  [{ mode: "prod" }, "options.mode"],
  [{ mode: "dev", signingKey: "not a key" }, "options.signingKey"],
  [{ mode: "start", eventKeys: ["k"] }, "signingKey: required"],
  [{ mode: "start", signingKey: "signkey-prod-abcd" }, "eventKeys"],
  [{ mode: "dev", eventKeys: [""] }, "options.eventKeys[0]"],
  [
    { mode: "dev", signingKeyFallback: "signkey-prod-abcd", signingKeyFallbackUntil: "tomorrow" },
    "options.signingKeyFallbackUntil",
  ],
  [
    { mode: "dev", signingKey: "signkey-prod-abcd", signingKeyFallbackUntil: 1_800_000_000_000 },
    "signingKeyFallbackUntil: set without signingKeyFallback",
  ],
])("refuses bad options, naming the field (%j)", (options, field) => {
  expect(() => createInngestApi({ flows, ...(options as { mode: "dev" }) })).toThrow(field);
});
