// One bank node in its own process, for test/bank-cluster.test.ts:
//   node --import tsx --conditions=source bank-node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix> <leaseMs>
// Hosts Account and the decision log's actor, runs the transaction resolver; prints "ready" once it serves calls.
import { createActorSystem, createClusterNode } from "@troupe/actors";
import { createMemoryQueue, systemClock } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { createDecisionLog, createTransactions } from "../../src/index.js";
import { Account } from "../bank.js";

const [nodeId, postgresUrl, schema, natsUrl, subjectPrefix, leaseMs] = process.argv.slice(2);
if (!nodeId || !postgresUrl || !schema || !natsUrl || !subjectPrefix || !leaseMs) {
  throw new Error(
    "usage: bank-node.ts <nodeId> <postgresUrl> <schema> <natsUrl> <subjectPrefix> <leaseMs>",
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
const decisions = createDecisionLog({ store });
const system = createActorSystem({
  store,
  queue: createMemoryQueue({ queueName: `actors-${nodeId}`, clock: systemClock }),
  actors: [Account, decisions.actor],
  nodeId,
  directory: cluster.directory,
  remoting: cluster.remoting,
});
// Survivors finish committed transactions whose coordinator (or a participant's node) died.
const transactions = createTransactions({ system, decisions, resolveEveryMs: 1_000 });
await cluster.join();
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
    transactions.close();
    await system.close();
    await cluster.close();
    await transport.close();
    await store.close();
    process.exit(0);
  })();
});
