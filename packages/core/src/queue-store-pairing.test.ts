import { describe, expect, it } from "vitest";
import { TroupeError } from "./errors.js";
import { createMemoryQueue } from "./memory/memory-queue.js";
import { createMemoryStore } from "./memory/memory-store.js";
import {
  isStorePairedQueue,
  storePairing,
  validatePairedCommitOptions,
} from "./queue-store-pairing.js";

const fieldOf = (action: () => void): string | undefined => {
  try {
    action();
  } catch (error) {
    if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) return String(error.details.field);
    throw error;
  }
  return undefined;
};

describe("store pairing", () => {
  it("a queue without the capability has no pairing, so the engine commits then enqueues", () => {
    const queue = createMemoryQueue({ queueName: "q" });
    expect(isStorePairedQueue(queue)).toBe(false);
    expect(storePairing(queue, createMemoryStore())).toBeUndefined();
  });

  it("bad lease options name the field", () => {
    expect(fieldOf(() => validatePairedCommitOptions(undefined))).toBeUndefined();
    expect(fieldOf(() => validatePairedCommitOptions({ lease: { ids: ["a"], leaseMs: 5 } }))).toBe(
      undefined,
    );
    expect(
      fieldOf(() => validatePairedCommitOptions({ lease: { ids: "a" as never, leaseMs: 5 } })),
    ).toBe("options.lease.ids");
    expect(
      fieldOf(() => validatePairedCommitOptions({ lease: { ids: ["a", ""], leaseMs: 5 } })),
    ).toBe("options.lease.ids[1]");
    expect(fieldOf(() => validatePairedCommitOptions({ lease: { ids: [], leaseMs: 1.5 } }))).toBe(
      "options.lease.leaseMs",
    );
  });
});
