// Two-actor transfers as transactions: one node on the memory Store and on SQLite, two nodes on
// PostgreSQL + NATS, and the same transfer as one PostgreSQL transaction through `pg` directly.
// Run: pnpm --filter @troupe/actor-tx bench  (BENCH_DURATION_MS, BENCH_CONCURRENCY, BENCH_PARALLEL=1,
// BENCH_COLD=1, BENCH_NODE_PROCESS=1, BENCH_CONFLICT_WAIT_MS to change; BENCH_ONLY=memory,sqlite,cluster,pg picks rows)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type ActorSystem, createActorSystem } from "@troupe/actors";
import {
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  type MemoryMetrics,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { createDecisionLog, createTransactions, type Transactions } from "../src/index.js";
import { Account } from "./account.js";
import { startBenchNodes } from "./cluster-nodes.js";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 1_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const accounts = Number(process.env.BENCH_ACCOUNTS ?? 1_000);
// BENCH_PARALLEL=1: the body sends both steps at once (Promise.all) instead of one after the other.
const parallelSteps = process.env.BENCH_PARALLEL === "1";
// BENCH_COLD=1: accounts are activated by their first transfer during the run (before 2026-12-07
// every row ran so); by default each row first activates every account, as a running service
// has them, the way the raw `pg` row's table is filled before it is measured.
const coldAccounts = process.env.BENCH_COLD === "1";
// BENCH_NODE_PROCESS=1: the cluster row's second node runs in a process of its own (as nodes do
// in production) instead of beside the first in this one; its CPU counts in transfers/CPU-s.
const nodeProcess = process.env.BENCH_NODE_PROCESS === "1";
// BENCH_CONFLICT_WAIT_MS: the transactions' conflictWaitMs (default: createTransactions' own).
const conflictWait =
  process.env.BENCH_CONFLICT_WAIT_MS === undefined
    ? {}
    : { conflictWaitMs: Number(process.env.BENCH_CONFLICT_WAIT_MS) };
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const runId = `txbench_${process.pid}_${Date.now().toString(36)}`;

interface Result {
  perSec: number;
  /** Transfers per second of this process's CPU time (user + system): steadier on a busy machine. */
  perCpuSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /** Transactions started per transfer measured, and the retries behind them. */
  retries: string;
}

function retriesOf(metrics: MemoryMetrics, transfers: number): string {
  const per = (name: string) => (metrics.value(name) / Math.max(1, transfers)).toFixed(2);
  return `${per("actors_tx_busy_retries_total")} busy, ${per("actors_tx_conflict_retries_total")} conflict`;
}

/** Keeps `concurrency` transfers in flight for the duration; failed transfers are not timed. */
async function measure(
  transfer: (from: number, to: number) => Promise<unknown>,
  otherCpuMs: () => number = () => 0,
): Promise<Result> {
  let failed = 0;
  const failures = new Map<string, number>(); // by error code, warm-up included

  const run = async (until: number, samples: number[] | undefined) => {
    while (performance.now() < until) {
      const from = Math.floor(Math.random() * accounts);
      const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
      // The memory Store answers on promise callbacks alone: without this yield, timers (the
      // retry backoff of a transfer that found an account locked) would wait for the row to end.
      await new Promise((resolve) => setImmediate(resolve));
      const before = performance.now();
      try {
        await transfer(from, to);
        samples?.push(performance.now() - before);
      } catch (error) {
        if (samples) failed += 1;
        const code = (error as { code?: unknown }).code ?? (error as Error).message;
        failures.set(String(code), (failures.get(String(code)) ?? 0) + 1);
      }
    }
  };
  const warm = performance.now() + warmupMs;
  await Promise.all(Array.from({ length: concurrency }, () => run(warm, undefined)));
  const samples: number[] = [];
  const cpuBefore = process.cpuUsage();
  const otherBefore = otherCpuMs();
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => run(start + durationMs, samples)));
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSec = (cpu.user + cpu.system) / 1e6 + (otherCpuMs() - otherBefore) / 1e3;
  if (failures.size > 0)
    console.error("failed transfers by error code:", Object.fromEntries(failures));
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return {
    perSec: (samples.length * 1000) / elapsed,
    perCpuSec: samples.length / cpuSec,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    failed,
    retries: "",
  };
}

/** Activates every account (reads its balance), 100 at a time, unless BENCH_COLD=1. */
async function activateAccounts(system: ActorSystem): Promise<void> {
  if (coldAccounts) return;
  for (let first = 0; first < accounts; first += 100) {
    const keys = Array.from({ length: Math.min(100, accounts - first) }, (_, i) => first + i);
    await Promise.all(keys.map((key) => system.invoke("Account", key, "balance", [])));
  }
}

/** Transfers move money, never make or lose it: the sum over every account stays the same. */
async function checkTotal(system: ActorSystem): Promise<void> {
  const balances = await Promise.all(
    Array.from({ length: accounts }, (_, key) => system.invoke("Account", key, "balance", [])),
  );
  const total = balances.reduce((sum: number, b) => sum + (b as number), 0);
  if (total !== accounts * 1_000_000) {
    throw new Error(`the books do not balance: ${total}, expected ${accounts * 1_000_000}`);
  }
}

function transferOn(system: ActorSystem, transactions: Transactions) {
  let n = 0;
  return (from: number, to: number) => {
    const id = `b${n++}`;
    return transactions.run(
      async (tx) => {
        if (parallelSteps) {
          await Promise.all([
            tx.call(system.get(Account, from), "withdraw", id, 1),
            tx.call(system.get(Account, to), "deposit", id, 1),
          ]);
          return;
        }
        await tx.call(system.get(Account, from), "withdraw", id, 1);
        await tx.call(system.get(Account, to), "deposit", id, 1);
      },
      { conflictRetries: 20 },
    );
  };
}

async function oneNode(store: Store, queue: Queue): Promise<Result> {
  const decisions = createDecisionLog({ store });
  const system = createActorSystem({ store, queue, actors: [Account, decisions.actor] });
  const metrics = createMemoryMetrics();
  const transactions = createTransactions({
    system,
    decisions,
    timeoutMs: 10_000,
    metrics,
    ...conflictWait,
  });
  try {
    await activateAccounts(system);
    const result = await measure(transferOn(system, transactions));
    if (result.failed === 0) await checkTotal(system); // an unknown outcome may still be in doubt
    return { ...result, retries: retriesOf(metrics, metrics.value("actors_tx_committed_total")) };
  } finally {
    transactions.close();
    await system.close();
  }
}

/** CPU time (ms, user + system) of process `pid` so far, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, 1/100 s ticks
}

/** Starts the second node in its own process (bench/bench-node.ts) and waits until it serves. */
async function startNodeProcess(schema: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=source",
      fileURLToPath(new URL("./bench-node.ts", import.meta.url)),
      `${runId}-1`,
      postgresUrl,
      schema,
      natsUrl,
      `${runId}.actors`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`bench-node exited with ${code}`)));
    child.stdout?.on("data", (data: Buffer) => {
      if (data.toString().includes("ready")) resolve();
    });
  });
  return child;
}

async function crossNode(schema: string): Promise<Result> {
  const child = nodeProcess ? await startNodeProcess(schema) : undefined;
  const count = child === undefined ? 2 : 1;
  const stores = Array.from({ length: count }, () =>
    createPostgresStore({ connectionString: postgresUrl, schema }),
  );
  const cluster = await startBenchNodes({ stores, natsUrl, runId });
  const systems = cluster.systems;
  const [system] = systems as [ActorSystem];
  const metrics = createMemoryMetrics();
  const transactions = createTransactions({
    system,
    decisions: createDecisionLog({ store: stores[0] as Store }),
    timeoutMs: 10_000,
    metrics,
    ...conflictWait,
  });
  try {
    await activateAccounts(system);
    const pid = child?.pid;
    const result = await measure(
      transferOn(system, transactions),
      pid === undefined ? undefined : () => processCpuMs(pid),
    );
    if (result.failed === 0) await checkTotal(system); // an unknown outcome may still be in doubt
    return { ...result, retries: retriesOf(metrics, metrics.value("actors_tx_committed_total")) };
  } finally {
    if (child !== undefined) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    transactions.close();
    await cluster.close();
    for (const s of stores) await s.close();
  }
}

interface Pool {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  connect(): Promise<{ query(sql: string, params?: unknown[]): Promise<unknown>; release(): void }>;
  end(): Promise<void>;
}

async function rawPostgres(schema: string): Promise<Result> {
  const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
    Pool: new (config: { connectionString: string; max: number }) => Pool;
  };
  const pool = new Pool({ connectionString: postgresUrl, max: 16 });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const table = `"${schema}".accounts`;
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, balance bigint NOT NULL)`);
  await pool.query(`INSERT INTO ${table} SELECT g, 1000 FROM generate_series(0, $1) g`, [
    accounts - 1,
  ]);
  try {
    return await measure(async (from, to) => {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        // Lock in key order, as a careful application would, so the reference never deadlocks.
        const [first, second] = from < to ? [from, to] : [to, from];
        await client.query(`UPDATE ${table} SET balance = balance + $2 WHERE id = $1`, [
          first,
          first === from ? -1 : 1,
        ]);
        await client.query(`UPDATE ${table} SET balance = balance + $2 WHERE id = $1`, [
          second,
          second === from ? -1 : 1,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      } finally {
        client.release();
      }
    });
  } finally {
    await pool.end();
  }
}

async function dropSchemas(schemas: string[]) {
  const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
    Pool: new (config: { connectionString: string; max: number }) => Pool;
  };
  const pool = new Pool({ connectionString: postgresUrl, max: 1 });
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}

// Troupe's system clock unrefs its timers; keep the process up while transfers back off.
const keepAlive = setInterval(() => {}, 1_000);
const rows: { setup: string; result: Result }[] = [];
const only = process.env.BENCH_ONLY?.split(",");
const want = (name: string) => only === undefined || only.includes(name);
if (want("memory")) {
  rows.push({
    setup: "one node, memory Store",
    result: await oneNode(createMemoryStore(), createMemoryQueue()),
  });
}
if (want("sqlite")) {
  const dir = mkdtempSync(join(tmpdir(), "troupe-txbench-"));
  const path = join(dir, "bench.db");
  const store = createSqliteStore({ path });
  const queue = createSqliteQueue({ path, clock: systemClock, queueName: "actors" });
  try {
    rows.push({ setup: "one node, SQLite (file)", result: await oneNode(store, queue) });
  } finally {
    await queue.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const schemas = [`${runId}_actors`, `${runId}_raw`];
try {
  if (want("cluster")) {
    rows.push({ setup: "two nodes, PostgreSQL + NATS", result: await crossNode(schemas[0] ?? "") });
  }
  if (want("pg")) {
    rows.push({
      setup: "raw pg: one PostgreSQL transaction",
      result: await rawPostgres(schemas[1] ?? ""),
    });
  }
} finally {
  if (want("cluster") || want("pg")) await dropSchemas(schemas);
}

console.log(
  `\ntwo-actor transfers, ${accounts} accounts, ${concurrency} in flight, ${durationMs} ms measured${parallelSteps ? ", steps in parallel" : ""}${nodeProcess ? ", second node in its own process" : ""}${coldAccounts ? ", accounts activated during the run" : ""}\n`,
);
console.log(
  "| setup | transfers/s | transfers/CPU-s | p50 ms | p99 ms | failed | retries per commit |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
for (const { setup, result } of rows) {
  console.log(
    `| ${setup} | ${Math.round(result.perSec).toLocaleString("en-US")} | ${Math.round(result.perCpuSec).toLocaleString("en-US")} | ${result.p50Ms.toFixed(2)} | ${result.p99Ms.toFixed(2)} | ${result.failed} | ${result.retries} |`,
  );
}
clearInterval(keepAlive);
process.exit(0);
