// A worker process for the cross-process tests: runs the engine until killed.
// Usage: crash-worker <sqlite|postgres|redis> <location> <tag> <effects-file>
// (location: the SQLite file, the PostgreSQL URL or the Redis URL; tag: queue name and prefix).
import { createConsoleLogger } from "@troupe/core";
import { createFlows } from "../src/index.js";
import { crashFunction } from "./crash-function.js";
import { openCrashPorts } from "./crash-ports.js";

const [adapter = "", location = "", tag = "", effectsPath = ""] = process.argv.slice(2);
const ports = openCrashPorts(adapter, location, tag, true);
const flows = createFlows({
  store: ports.store,
  queue: ports.queue,
  ...(ports.pubsub ? { pubsub: ports.pubsub } : {}),
  prefix: ports.prefix,
  functions: [crashFunction(effectsPath)],
  leaseMs: 1500,
  pollIntervalMs: 50,
  workerConcurrency: 32,
  sweepGraceMs: 1000,
  sweepIntervalMs: 2000,
  logger: createConsoleLogger("warn"),
});
await flows.start();
process.stdout.write("ready\n");
