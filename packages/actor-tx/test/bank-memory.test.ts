import { createMemoryQueue, createMemoryStore, type Store } from "@troupe/core";
import { describe, it } from "vitest";
import { runBankScenario } from "./bank-in-process.js";

describe("bank invariant, memory Store", () => {
  it("keeps the books through coordinator crashes between phases and a restart", async () => {
    // The memory Store outlives the "process": the restart reopens the same one.
    const store: Store = createMemoryStore();
    await runBankScenario(
      {
        open: async () => ({ store, queue: createMemoryQueue() }),
        close: async () => {},
      },
      2_000,
    );
  });
});
