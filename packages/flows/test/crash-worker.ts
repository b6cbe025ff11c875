// A worker process for the crash test: runs the engine on a SQLite file until killed.
import { systemClock } from "@troupe/core";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { createFlows } from "../src/index.js";
import { crashFunction } from "./crash-function.js";

const [dbPath, effectsPath] = process.argv.slice(2);
if (!dbPath || !effectsPath) throw new Error("usage: crash-worker <db> <effects>");
const store = createSqliteStore({ path: dbPath });
const queue = createSqliteQueue({ path: dbPath, clock: systemClock, queueName: "flows" });
const pubsub = createSqlitePubSub({ path: dbPath });
const flows = createFlows({
  store,
  queue,
  pubsub,
  functions: [crashFunction(effectsPath)],
  leaseMs: 1500,
  pollIntervalMs: 50,
  workerConcurrency: 32,
  sweepGraceMs: 1000,
  sweepIntervalMs: 2000,
});
await flows.start();
process.stdout.write("ready\n");
