// A CPU profile driver for the memory row: N transfers (64 in flight) twice, no per-transfer
// timing, so a `node --cpu-prof` run shows the transfer path rather than the bench harness.
// Run: N=30000 node --import tsx --conditions=source --cpu-prof bench/profile-memory.ts
import { createActorSystem } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createDecisionLog, createTransactions } from "../src/index.js";
import { Account } from "./account.js";

const store = createMemoryStore();
const decisions = createDecisionLog({ store });
const system = createActorSystem({
  store,
  queue: createMemoryQueue(),
  actors: [Account, decisions.actor],
});
const transactions = createTransactions({ system, decisions, timeoutMs: 10_000 });
const N = Number(process.env.N ?? 20000);
let n = 0;
const one = async () => {
  const from = Math.floor(Math.random() * 1000);
  const to = (from + 1 + Math.floor(Math.random() * 999)) % 1000;
  const id = `b${n++}`;
  await transactions.run(
    async (tx) => {
      await tx.call(system.get(Account, from), "withdraw", id, 1);
      await tx.call(system.get(Account, to), "deposit", id, 1);
    },
    { conflictRetries: 20 },
  );
};
for (const round of [0, 1]) {
  const cpu = process.cpuUsage();
  const t = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (done < N) {
        done++;
        await one();
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  const c = process.cpuUsage(cpu);
  console.log(
    `round ${round}: ${N} transfers, ${Math.round(N / ((performance.now() - t) / 1000))}/s wall, ${Math.round(N / ((c.user + c.system) / 1e6))}/CPU-s`,
  );
}
transactions.close();
await system.close();
process.exit(0);
