// The bench's second node in its own process (BENCH_NODE_PROCESS=1 in bench/index.ts):
//   node --import tsx --conditions=source bench/bench-node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix>
// Hosts Account and the decision log's actor; prints "ready" once it serves calls, and closes on
// SIGTERM.
import { createActorSystem, createClusterNode } from "@troupe/actors";
import { createMemoryQueue } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { createDecisionLog } from "../src/index.js";
import { Account } from "./account.js";

const [nodeId, postgresUrl, schema, natsUrl, subjectPrefix] = process.argv.slice(2);
if (!nodeId || !postgresUrl || !schema || !natsUrl || !subjectPrefix) {
  throw new Error("usage: bench-node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix>");
}
const store = createPostgresStore({ connectionString: postgresUrl, schema });
const transport = createNatsTransport({ servers: natsUrl, subjectPrefix });
const node = createClusterNode({ store, transport, nodeId, leaseMs: 30_000 });
const system = createActorSystem({
  store,
  queue: createMemoryQueue({ queueName: `q-${nodeId}` }),
  actors: [Account, createDecisionLog({ store }).actor],
  nodeId,
  directory: node.directory,
  remoting: node.remoting,
});
await node.join();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void (async () => {
    await system.close();
    await node.close();
    await transport.close();
    await store.close();
    process.exit(0);
  })();
});
