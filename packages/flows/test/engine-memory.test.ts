import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { describeFlowsEngine } from "./engine-suite.js";

describeFlowsEngine("memory", async ({ clock }) => ({
  store: createMemoryStore(),
  queue: createMemoryQueue({ clock }),
  close: async () => {},
}));
