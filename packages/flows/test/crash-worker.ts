// A worker process for the cross-process tests: runs the engine until killed.
// Usage: crash-worker sqlite <db-path> <effects> | crash-worker postgres <url> <prefix> <effects>
import { systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { createFlows, type FlowsOptions } from "../src/index.js";
import { crashFunction } from "./crash-function.js";

const [adapter, ...args] = process.argv.slice(2);
let ports: Pick<FlowsOptions, "store" | "queue" | "pubsub" | "prefix">;
let effectsPath: string;
if (adapter === "sqlite") {
  const [path = "", effects = ""] = args;
  effectsPath = effects;
  ports = {
    store: createSqliteStore({ path }),
    queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
    pubsub: createSqlitePubSub({ path }),
  };
} else if (adapter === "postgres") {
  const [url = "", prefix = "", effects = ""] = args;
  effectsPath = effects;
  ports = {
    store: createPostgresStore({ connectionString: url, schema: "troupe_flows_test" }),
    queue: createPostgresQueue({
      connectionString: url,
      schema: "troupe_flows_test",
      queueName: prefix,
      clock: systemClock,
    }),
    pubsub: createPostgresPubSub({ connectionString: url, channelPrefix: "troupe_flows_test:" }),
    prefix: `flows/${prefix}/`,
  };
} else {
  throw new Error(`unknown adapter ${adapter}`);
}
const flows = createFlows({
  ...ports,
  functions: [crashFunction(effectsPath)],
  leaseMs: 1500,
  pollIntervalMs: 50,
  workerConcurrency: 32,
  sweepGraceMs: 1000,
  sweepIntervalMs: 2000,
});
await flows.start();
process.stdout.write("ready\n");
