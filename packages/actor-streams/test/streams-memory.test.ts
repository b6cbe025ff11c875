import { createMemoryPubSub, createMemoryStore } from "@troupe/core";
import { describeStreams } from "./streams-suite.js";

describeStreams("memory", {
  async open() {
    const store = createMemoryStore();
    const pubsub = createMemoryPubSub();
    return {
      process: async () => ({ store, pubsub }),
      close: async () => {
        await pubsub.close();
        await store.close();
      },
    };
  },
});
