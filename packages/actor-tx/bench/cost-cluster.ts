// Where a cross-node transfer's cost goes at many in flight (two nodes, PostgreSQL + NATS, in
// this one process, as in the bench's cluster row): this process's CPU per transfer, the CPU of
// the PostgreSQL backends serving it (/proc/<pid>/stat), remote calls per transfer by action
// (each a NATS request and its reply), and Store commits per transfer.
// Run: npx tsx --conditions=source bench/cost-cluster.ts
//   (COST_CONCURRENCY, default 64; COST_DURATION_MS, default 5,000; COST_PARALLEL=1: both steps at
//   once; COST_CONFLICT_WAIT_MS: the transactions' conflictWaitMs; COST_COLD=1: no pre-activation)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import type { ActorRemoting, ActorSystem } from "@troupe/actors";
import { createMemoryMetrics, type Store } from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { createDecisionLog, createTransactions } from "../src/index.js";
import { Account } from "./account.js";
import { startBenchNodes } from "./cluster-nodes.js";

const concurrency = Number(process.env.COST_CONCURRENCY ?? 64);
const durationMs = Number(process.env.COST_DURATION_MS ?? 5_000);
const parallel = process.env.COST_PARALLEL === "1";
const accounts = 1_000;
const runId = `txcost_${process.pid}`;
const baseUrl = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const url = `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}application_name=${runId}`;
const counts = new Map<string, number>();
const count = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);

const countingStore = (store: Store, node: number): Store =>
  new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== "commit" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        count(`node ${node}: Store commits`);
        return value.apply(target, args);
      };
    },
  });
const countingRemoting = (remoting: ActorRemoting, node: number): ActorRemoting => ({
  ...remoting,
  send(target, call) {
    count(
      `node ${node} → ${target.slice(-1)}: remote ${call.action}${call.oneWay ? " (one-way)" : ""}`,
    );
    return remoting.send(target, call);
  },
  listen: (handler) => remoting.listen(handler),
  close: () => remoting.close(),
});

const schema = `${runId}_s`;
const stores = [0, 1].map((i) =>
  countingStore(createPostgresStore({ connectionString: url, schema }), i),
);
const cluster = await startBenchNodes({
  stores,
  natsUrl: process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222",
  runId,
  remoting: countingRemoting,
});
const systems = cluster.systems;
const system = systems[0] as ActorSystem;
const metrics = createMemoryMetrics();
const transactions = createTransactions({
  system,
  metrics,
  decisions: createDecisionLog({ store: stores[0] as Store }),
  timeoutMs: 10_000,
  ...(process.env.COST_CONFLICT_WAIT_MS === undefined
    ? {}
    : { conflictWaitMs: Number(process.env.COST_CONFLICT_WAIT_MS) }),
});
let n = 0;
const transfer = (from: number, to: number) => {
  const id = `c${n++}`;
  return transactions.run(
    async (tx) => {
      const a = tx.call(system.get(Account, from), "withdraw", id, 1);
      if (!parallel) await a;
      const b = tx.call(system.get(Account, to), "deposit", id, 1);
      await Promise.all([a, b]);
    },
    { conflictRetries: 20 },
  );
};

const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
  Pool: new (c: {
    connectionString: string;
    max: number;
  }) => {
    query(sql: string, params?: unknown[]): Promise<{ rows: { pid: number }[] }>;
    end(): Promise<void>;
  };
};
const admin = new Pool({ connectionString: baseUrl, max: 1 });
/** CPU ticks (user + system, 1/100 s) of the PostgreSQL backends serving this run. */
const backendTicks = async (): Promise<number> => {
  const { rows } = await admin.query(
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [runId],
  );
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      // the backend ended meanwhile
    }
  }
  return ticks;
};

const run = async (until: number, done: { n: number; failed: number }) => {
  while (performance.now() < until) {
    const from = Math.floor(Math.random() * accounts);
    const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await transfer(from, to);
      done.n += 1;
    } catch {
      done.failed += 1;
    }
  }
};
// Warm-up: every account activated (as in a running service), then pools and JIT warm.
if (process.env.COST_COLD !== "1") {
  for (let i = 0; i < accounts; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => system.invoke("Account", i + k, "balance", [])),
    );
  }
}
await Promise.all(
  Array.from({ length: concurrency }, () => run(performance.now() + 1_500, { n: 0, failed: 0 })),
);
counts.clear();
const txCounters = [
  "actors_tx_started_total",
  "actors_tx_aborted_total",
  "actors_tx_busy_retries_total",
  "actors_tx_conflict_retries_total",
];
const txBefore = txCounters.map((name) => metrics.value(name));
const done = { n: 0, failed: 0 };
const ticksBefore = await backendTicks();
const cpuBefore = process.cpuUsage();
const start = performance.now();
await Promise.all(Array.from({ length: concurrency }, () => run(start + durationMs, done)));
const elapsed = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
const pgMs = ((await backendTicks()) - ticksBefore) * 10;
const per = (x: number) => (x / Math.max(1, done.n)).toFixed(2);
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(
  `${concurrency} in flight${parallel ? " (steps in parallel)" : ""}, ${durationMs} ms, load ${load}`,
);
console.log(
  `${done.n} transfers (${done.failed} failed), ${((done.n * 1000) / elapsed).toFixed(0)}/s; this process ${(((cpu.user + cpu.system) / 1000 / elapsed) * 100).toFixed(0)} % of a core`,
);
console.log(
  `CPU per transfer: this process ${per((cpu.user + cpu.system) / 1000)} ms (user ${per(cpu.user / 1000)}), PostgreSQL backends ${per(pgMs)} ms`,
);
for (const [name, value] of [...counts].sort()) console.log(`${name}: ${per(value)} per transfer`);
console.log(
  txCounters
    .map((name, i) => `${name.slice(10)} ${per(metrics.value(name) - (txBefore[i] ?? 0))}`)
    .join(", "),
  "per transfer",
);
transactions.close();
await cluster.close();
await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
await admin.end();
for (const s of stores) await s.close();
process.exit(0);
