// A worker process for the cross-process flow-control test: runs the engine until killed.
// Usage: fc-worker <postgres-url> <tag> <log-file> <rated-events-to-send>
import { createConsoleLogger } from "@troupe/core";
import { createFlows } from "../src/index.js";
import { openCrashPorts } from "./crash-ports.js";
import { flowControlFunctions } from "./fc-functions.js";

const [url = "", tag = "", logPath = "", rated = "0"] = process.argv.slice(2);
const ports = openCrashPorts("postgres", url, tag, true);
const flows = createFlows({
  store: ports.store,
  queue: ports.queue,
  ...(ports.pubsub ? { pubsub: ports.pubsub } : {}),
  prefix: ports.prefix,
  functions: flowControlFunctions(logPath),
  leaseMs: 5000,
  pollIntervalMs: 50,
  workerConcurrency: 16,
  logger: createConsoleLogger("warn"),
});
await flows.start();
process.stdout.write("ready\n");
const count = Number(rated);
if (count > 0) {
  await flows.send(Array.from({ length: count }, (_, n) => ({ name: "fc/rated", data: { n } })));
  process.stdout.write("sent\n");
}
