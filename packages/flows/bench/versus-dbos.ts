// The 3-step workflow on PostgreSQL, Troupe flows against DBOS Transact, side by side in one run:
// one workflow at a time (C=1: workflows/s, p50, p99) and 50 at a time (C=50: workflows/s).
// Rounds alternate (troupe, dbos, dbos, troupe, …) so a load swing hits both; medians are shown.
// Run with `pnpm bench dbos` (also part of `pnpm bench`).
import { loadavg } from "node:os";
import { systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { printTable } from "@troupe/testkit";
import pg from "pg";
import { createFlows, createFunction, type Flows } from "../src/index.js";
import { dbosOne, launchDbos, shutdownDbos } from "./dbos.js";
import type { ScratchDatabases } from "./scratch-databases.js";

const ROUNDS = Number(process.env.FLOWS_BENCH_ROUNDS ?? 4);
const C1_WORKFLOWS = Number(process.env.FLOWS_BENCH_C1_WORKFLOWS ?? 200);
const C50_WORKFLOWS = Number(process.env.FLOWS_BENCH_C50_WORKFLOWS ?? 2000);

interface Round {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** Runs `count` workflows, `lanes` at a time, each timed from start to result. */
export async function timeLanes(
  count: number,
  lanes: number,
  one: (n: number) => Promise<void>,
): Promise<Round> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) {
        const n = next++;
        const begin = performance.now();
        await one(n);
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (count / ms) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** A Troupe flows engine on PostgreSQL with the 3-step function; `one(n)` sends and awaits a run. */
export async function openTroupe(url: string) {
  const tag = `v${Date.now().toString(36)}`;
  const schema = "troupe_flows_bench";
  const store = createPostgresStore({ connectionString: url, schema });
  const queue = createPostgresQueue({
    connectionString: url,
    schema,
    queueName: tag,
    clock: systemClock,
  });
  const pubsub = createPostgresPubSub({ connectionString: url, channelPrefix: `${tag}:` });
  const started = new Map<number, (runId: string) => void>();
  const fn = createFunction(
    { id: "three", triggers: [{ event: "bench/go" }] },
    async ({ event, step, runId }) => {
      const n = event.data.n as number;
      started.get(n)?.(runId);
      started.delete(n);
      const a = await step.run("a", () => n + 1);
      const b = await step.run("b", () => a * 2);
      return step.run("c", () => b + 1);
    },
  );
  const flows: Flows = createFlows({
    store,
    queue,
    pubsub,
    prefix: `flows/${tag}/`,
    functions: [fn],
    workerConcurrency: 64,
  });
  await flows.start();
  let sequence = 0;
  return {
    async one() {
      const n = sequence++;
      const runId = new Promise<string>((resolve) => started.set(n, resolve));
      await flows.send({ name: "bench/go", data: { n } });
      const run = await flows.waitForRun(await runId);
      if (run.status !== "completed") throw new Error(`run ${run.id} ended ${run.status}`);
    },
    async close() {
      await flows.stop();
      for (;;) {
        const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
        if (entries.length === 0) break;
        await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
      }
      await pubsub.close();
      await queue.close();
      await store.close();
    },
  };
}

/**
 * Both systems, alternating rounds; prints the table. Launches DBOS on a fresh database of
 * `databases` unless `dbosLaunched` (then the caller launched it and shuts it down).
 */
export async function versusDbos(databases: ScratchDatabases, dbosLaunched = false): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  if (!dbosLaunched) await launchDbos((await databases.create("dbos")).url);
  // Troupe on a fresh database too, as DBOS is: a schema reused across runs keeps every earlier
  // run's dead rows where autovacuum is off (as on the CI machine), and reads slow down with them.
  const troupe = await openTroupe((await databases.create("troupe")).url);
  // The unit a one-at-a-time workflow is made of: a single-row INSERT committed on its own, on
  // the same server, timed in the same rounds. Each system's C=1 p50 over it is the number of
  // synchronous commits' worth of time one workflow takes (Troupe has 4 on its path, DBOS 5).
  const bare = await openBareCommit((await databases.create("commit")).url);
  // Warm-up: connections, prepared statements, JIT.
  await timeLanes(50, 10, () => troupe.one());
  await timeLanes(50, 10, (n) => dbosOne(n));
  await timeLanes(50, 1, () => bare.one());
  const commits: Round[] = [];
  const results = {
    troupe: { c1: [] as Round[], c50: [] as Round[] },
    dbos: { c1: [] as Round[], c50: [] as Round[] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (["troupe", "dbos"] as const) : (["dbos", "troupe"] as const);
    for (const system of order) {
      const one = system === "troupe" ? () => troupe.one() : (n: number) => dbosOne(n);
      results[system].c1.push(await timeLanes(C1_WORKFLOWS, 1, one));
      results[system].c50.push(await timeLanes(C50_WORKFLOWS, 50, one));
    }
    commits.push(await timeLanes(C1_WORKFLOWS, 1, () => bare.one()));
  }
  await troupe.close();
  await bare.close();
  if (!dbosLaunched) await shutdownDbos();
  const loadAfter = loadavg()[0] ?? 0;

  const summary = (rounds: readonly Round[]) => ({
    perSecond: median(rounds.map((r) => r.perSecond)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
  });
  const t1 = summary(results.troupe.c1);
  const d1 = summary(results.dbos.c1);
  const t50 = summary(results.troupe.c50);
  const d50 = summary(results.dbos.c50);
  const ratios = (key: "c1" | "c50") =>
    results.troupe[key].map((r, i) =>
      (r.perSecond / (results.dbos[key][i]?.perSecond ?? 1)).toFixed(2),
    );
  const row = (name: string, c1: typeof t1, c50: typeof t1) => ({
    system: name,
    "C=1 workflows/s": c1.perSecond.toFixed(1),
    "C=1 p50 ms": c1.p50.toFixed(2),
    "C=1 p99 ms": c1.p99.toFixed(2),
    "C=1 p99/p50": (c1.p99 / c1.p50).toFixed(1),
    "C=50 workflows/s": c50.perSecond.toFixed(0),
    "C=50 p50 ms": c50.p50.toFixed(1),
  });
  printTable(
    `3-step workflow on PostgreSQL, Troupe flows vs DBOS Transact (median of ${ROUNDS} alternating rounds; C=1: ${C1_WORKFLOWS} workflows, C=50: ${C50_WORKFLOWS})`,
    [
      row("troupe flows (postgres)", t1, t50),
      row("DBOS Transact 5.3.0 (postgres)", d1, d50),
      {
        system: "troupe / DBOS",
        "C=1 workflows/s": `${(t1.perSecond / d1.perSecond).toFixed(2)}x`,
        "C=1 p50 ms": `${(t1.p50 / d1.p50).toFixed(2)}x`,
        "C=1 p99 ms": `${(t1.p99 / d1.p99).toFixed(2)}x`,
        "C=1 p99/p50": "",
        "C=50 workflows/s": `${(t50.perSecond / d50.perSecond).toFixed(2)}x`,
        "C=50 p50 ms": `${(t50.p50 / d50.p50).toFixed(2)}x`,
      },
    ],
  );
  console.log(`per-round troupe/DBOS workflows/s at C=1: ${ratios("c1").join(", ")}`);
  console.log(`per-round troupe/DBOS workflows/s at C=50: ${ratios("c50").join(", ")}`);
  const commit = summary(commits).p50;
  console.log(
    `one INSERT committed alone, C=1 p50: ${commit.toFixed(2)} ms; C=1 p50 in such commits: troupe ${(t1.p50 / commit).toFixed(2)}, DBOS ${(d1.p50 / commit).toFixed(2)}`,
  );
  console.log(
    `load average (1 min): ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
  );
}

/** A table where `one()` commits one small row in a transaction of its own. */
async function openBareCommit(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query("CREATE TABLE bench_commit (id bigserial PRIMARY KEY, value bytea NOT NULL)");
  const value = Buffer.alloc(500);
  return {
    async one() {
      await pool.query("INSERT INTO bench_commit (value) VALUES ($1)", [value]);
    },
    close: () => pool.end(),
  };
}
