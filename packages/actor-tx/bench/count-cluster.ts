// Counts the Store commits and ops of one cross-node transfer (two nodes, PostgreSQL + NATS),
// one transfer at a time, and prints its p50/p99: what each transfer costs the database.
// Run: npx tsx --conditions=source bench/count-cluster.ts
import type { ActorSystem } from "@troupe/actors";
import type { Store } from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { createDecisionLog, createTransactions } from "../src/index.js";
import { Account } from "./account.js";
import { startBenchNodes } from "./cluster-nodes.js";

const runId = `txcount_${process.pid}`;
const counts: Record<string, number> = {};
const wrap = (store: Store, name: string): Store =>
  new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const k = `${name}.${String(prop)}`;
        counts[k] = (counts[k] ?? 0) + 1;
        if (prop === "commit") {
          const ops = args[0] as { key: string; type: string }[];
          for (const op of ops) {
            const kk = `${name}.op.${op.type}.${op.key.split("/").slice(0, 2).join("/")}`;
            counts[kk] = (counts[kk] ?? 0) + 1;
          }
        }
        return v.apply(target, args);
      };
    },
  });
const schema = `${runId}_s`;
const stores = [0, 1].map((i) =>
  wrap(
    createPostgresStore({ connectionString: "postgres://postgres@127.0.0.1:5432/test", schema }),
    `n${i}`,
  ),
);
const cluster = await startBenchNodes({
  stores,
  natsUrl: process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222",
  runId,
});
const systems = cluster.systems;
const system = systems[0] as ActorSystem;
const transactions = createTransactions({
  system,
  decisions: createDecisionLog({ store: stores[0] as Store }),
  timeoutMs: 10_000,
});
const transfer = (from: number, to: number, id: string) =>
  transactions.run(async (tx) => {
    await tx.call(system.get(Account, from), "withdraw", id, 1);
    await tx.call(system.get(Account, to), "deposit", id, 1);
  });
// warm: activate 20 accounts
for (let i = 0; i < 20; i++) await transfer(i, (i + 1) % 20, `w${i}`);
await new Promise((r) => setTimeout(r, 200));
for (const k of Object.keys(counts)) delete counts[k];
{
  const idleBefore = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 3000));
  const idle = process.cpuUsage(idleBefore);
  console.log(`idle: ${((idle.user + idle.system) / 3000 / 10).toFixed(1)} % of a core`);
}
const { Session } = await import("node:inspector/promises");
const session = new Session();
if (process.env.PROFILE) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}
const cpuBefore = process.cpuUsage();
const eluBefore = performance.eventLoopUtilization();
const N = 200;
const lat: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await transfer(i % 20, (i + 7) % 20, `t${i}`);
  lat.push(performance.now() - t);
}
const cpu = process.cpuUsage(cpuBefore);
if (process.env.PROFILE) {
  const { profile } = await session.post("Profiler.stop");
  (await import("node:fs")).writeFileSync(process.env.PROFILE, JSON.stringify(profile));
}
const elu = performance.eventLoopUtilization(eluBefore);
console.log(`main thread busy: ${(elu.active / N).toFixed(2)} ms per transfer`);
await new Promise((r) => setTimeout(r, 200));
lat.sort((a, b) => a - b);
console.log(
  `this process: ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} CPU-ms per transfer (both nodes; user ${(cpu.user / 1000 / N).toFixed(2)}, system ${(cpu.system / 1000 / N).toFixed(2)})`,
);
console.log(
  `C=1: p50 ${(lat[N / 2] ?? 0).toFixed(2)} ms, p99 ${(lat[Math.floor(N * 0.99)] ?? 0).toFixed(2)} ms`,
);
for (const [k, v] of Object.entries(counts).sort())
  console.log(k, (v / N).toFixed(2), "per transfer");
transactions.close();
await cluster.close();
for (const s of stores) await s.close();
process.exit(0);
