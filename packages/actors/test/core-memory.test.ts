import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { describeActorCore } from "./core-suite.js";

describeActorCore("memory", async (clock) => {
  const store = createMemoryStore();
  const queue = createMemoryQueue({ clock });
  return {
    store,
    queue,
    async close() {
      await queue.close();
      await store.close();
    },
  };
});
