export {
  type BenchCandidate,
  benchQueue,
  benchStore,
  formatTable,
  type MeasureOptions,
  measureThroughput,
  type PortBenchOptions,
  printTable,
  type ThroughputResult,
} from "./bench.js";
export { collected, collectGarbage } from "./collected.js";
export {
  type ScratchSchemas,
  type ScratchSchemasOptions,
  scratchSchemas,
  testPostgresUrl,
} from "./postgres-scratch.js";
export { describePubSub, type PubSubSuiteOptions } from "./pubsub-suite.js";
export {
  BACKLOG_SCENARIOS,
  type BacklogBenchOptions,
  type BacklogCandidate,
  type BacklogScenario,
  benchQueueBacklog,
} from "./queue-backlog-bench.js";
export { describeQueue, type QueueSuiteOptions } from "./queue-suite.js";
export { type ReadmeExampleRun, runReadmeExample } from "./readme-example.js";
export {
  describeStorePairing,
  type PairedPorts,
  type StorePairingSuiteOptions,
} from "./store-pairing-suite.js";
export { describeStore, type StoreSuiteOptions } from "./store-suite.js";
export { createTestClock, type SuiteContext, waitFor } from "./suite-context.js";
export { describeTransport, type TransportSuiteOptions } from "./transport-suite.js";
export { type FuzzConnectionsOptions, fuzzConnections, seededRandom } from "./wire-fuzz.js";
