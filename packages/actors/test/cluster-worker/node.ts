// One cluster node in its own process, for test/cross-process.test.ts:
//   node --import tsx --conditions=source node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix> <leaseMs>
// Prints "ready" once it serves calls; closes gracefully on SIGTERM.
import { createMemoryQueue, systemClock } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { createClusterNode } from "../../src/cluster/index.js";
import { createActorSystem } from "../../src/index.js";
import { Counter } from "./counter.js";

const [nodeId, postgresUrl, schema, natsUrl, subjectPrefix, leaseMs] = process.argv.slice(2);
if (!nodeId || !postgresUrl || !schema || !natsUrl || !subjectPrefix || !leaseMs) {
  throw new Error(
    "usage: node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix> <leaseMs>",
  );
}

const store = createPostgresStore({ connectionString: postgresUrl, schema });
const transport = createNatsTransport({ servers: natsUrl, subjectPrefix, drainTimeoutMs: 100 });
const cluster = createClusterNode({
  store,
  transport,
  nodeId,
  leaseMs: Number(leaseMs),
  heartbeatMs: Math.floor(Number(leaseMs) / 4),
});
const system = createActorSystem({
  store,
  queue: createMemoryQueue({ queueName: `actors-${nodeId}`, clock: systemClock }),
  actors: [Counter],
  nodeId,
  directory: cluster.directory,
  remoting: cluster.remoting,
});
await cluster.join();
// The system starts listening without waiting: announce readiness only once a request to this
// node gets an answer (an empty message gets an error reply, which is enough).
for (;;) {
  try {
    await transport.request(nodeId, nodeId, new Uint8Array(), { timeoutMs: 1000 });
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
process.stdout.write("ready\n");

process.once("SIGTERM", () => {
  void (async () => {
    await system.close();
    await cluster.close();
    await transport.close();
    await store.close();
    process.exit(0);
  })();
});
