import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { describeAdmissionControl } from "./admission-suite.js";
import { describeConcurrencyControl } from "./concurrency-suite.js";
import { describeFlowsEngine, type EnginePortsFactory } from "./engine-suite.js";
import { describeSignalSteps } from "./signals-suite.js";

const memoryPorts: EnginePortsFactory = async ({ clock }) => ({
  store: createMemoryStore(),
  queue: createMemoryQueue({ clock }),
  close: async () => {},
});

describeFlowsEngine("memory", memoryPorts);
describeSignalSteps("memory", memoryPorts);
describeAdmissionControl("memory", memoryPorts);
describeConcurrencyControl("memory", memoryPorts);
