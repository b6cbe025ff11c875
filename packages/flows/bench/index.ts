// Flows benchmark: throughput of a 3-step workflow and per-step engine overhead, on SQLite and
// PostgreSQL. Run with `pnpm bench` (tsx --conditions=source bench/index.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PubSub, type Queue, type Store, systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { printTable } from "@troupe/testkit";
import { createFlows, createFunction } from "../src/index.js";
import { commitsBench } from "./commits.js";
import { cpuBench } from "./cpu.js";
import { dbosStepGaps, dbosThroughput, launchDbos, shutdownDbos } from "./dbos.js";
import { flowControlBench } from "./flow-control.js";
import { retentionBench } from "./retention.js";
import { withScratchDatabases } from "./scratch-databases.js";
import { tailBench } from "./tail.js";
import { versusDbos } from "./versus-dbos.js";

const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// `pnpm bench flow-control`, `pnpm bench dbos`, `pnpm bench commits` and `pnpm bench retention`
// run one part alone.
if (process.argv[2] === "flow-control") {
  await commitsBench(postgresUrl);
  await flowControlBench();
  process.exit(0);
}
if (process.argv[2] === "dbos") {
  await withScratchDatabases(postgresUrl, (databases) => versusDbos(databases));
  process.exit(0);
}
if (process.argv[2] === "cpu") {
  await withScratchDatabases(postgresUrl, (databases) => cpuBench(postgresUrl, databases));
  process.exit(0);
}
if (process.argv[2] === "retention") {
  await retentionBench(postgresUrl, process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
  process.exit(0);
}
if (process.argv[2] === "tail") {
  await tailBench(postgresUrl, Number(process.env.FLOWS_BENCH_TAIL_WORKFLOWS ?? 1000));
  process.exit(0);
}
if (process.argv[2] === "commits") {
  await commitsBench(postgresUrl);
  process.exit(0);
}
const WORKFLOWS = Number(process.env.FLOWS_BENCH_WORKFLOWS ?? 2000);
const OVERHEAD_RUNS = Number(process.env.FLOWS_BENCH_OVERHEAD_RUNS ?? 200);
const OVERHEAD_STEPS = 10;
const CONCURRENCY = 32;

interface Ports {
  readonly store: Store;
  readonly queue: Queue;
  readonly pubsub?: PubSub;
  close(): Promise<void>;
}

type Backend = { readonly name: string; open(tag: string): Ports };

const backends: Backend[] = [
  {
    name: "sqlite",
    open(tag) {
      const dir = mkdtempSync(join(tmpdir(), "troupe-flows-bench-"));
      const path = join(dir, "bench.db");
      const store = createSqliteStore({ path });
      const queue = createSqliteQueue({ path, clock: systemClock, queueName: tag });
      return {
        store,
        queue,
        async close() {
          await queue.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    open(tag) {
      const schema = "troupe_flows_bench";
      const store = createPostgresStore({ connectionString: postgresUrl, schema });
      const queue = createPostgresQueue({
        connectionString: postgresUrl,
        schema,
        queueName: tag,
        clock: systemClock,
      });
      const pubsub = createPostgresPubSub({
        connectionString: postgresUrl,
        channelPrefix: `${tag}:`,
      });
      return {
        store,
        queue,
        pubsub,
        async close() {
          for (;;) {
            const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
            if (entries.length === 0) break;
            await store.commit(
              entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
            );
          }
          await pubsub.close();
          await queue.close();
          await store.close();
        },
      };
    },
  },
];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** Workflows/s: WORKFLOWS events sent, a started worker runs the 3-step function for each. */
async function throughput(backend: Backend): Promise<Record<string, string | number>> {
  const tag = `b${Date.now().toString(36)}t`;
  const ports = backend.open(tag);
  let done = 0;
  let resolveAll: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const fn = createFunction(
    { id: "three", triggers: [{ event: "bench/go" }] },
    async ({ event, step }) => {
      const a = await step.run("a", () => (event.data.n as number) + 1);
      const b = await step.run("b", () => a * 2);
      const c = await step.run("c", () => b + 1);
      if (++done === WORKFLOWS) resolveAll();
      return c;
    },
  );
  const flows = createFlows({
    ...ports,
    prefix: `flows/${tag}/`,
    functions: [fn],
    workerConcurrency: CONCURRENCY,
    pollIntervalMs: 50,
  });
  await flows.start();
  const started = performance.now();
  const batch = 100;
  for (let offset = 0; offset < WORKFLOWS; offset += batch) {
    await flows.send(
      Array.from({ length: Math.min(batch, WORKFLOWS - offset) }, (_, index) => ({
        name: "bench/go",
        data: { n: offset + index },
      })),
    );
  }
  await allDone;
  const ms = performance.now() - started;
  await flows.stop();
  await ports.close();
  return {
    backend: `troupe flows (${backend.name})`,
    workflows: WORKFLOWS,
    "workflows/s": Math.round((WORKFLOWS / ms) * 1000),
    "steps/s": Math.round(((WORKFLOWS * 3) / ms) * 1000),
  };
}

/**
 * Per-step overhead: one run at a time of a 10-step function with empty steps, driven by
 * `runDue`; the overhead of a step is the time from one step body's end to the next one's start
 * (commit of the result, replay of the handler, next step found).
 */
async function overhead(backend: Backend): Promise<Record<string, string | number>> {
  const tag = `b${Date.now().toString(36)}o`;
  const ports = backend.open(tag);
  const gaps: number[] = [];
  let lastEnd = 0;
  const fn = createFunction({ id: "ten", triggers: [{ event: "bench/ten" }] }, async ({ step }) => {
    for (let index = 0; index < OVERHEAD_STEPS; index++) {
      await step.run(`s${index}`, () => {
        const now = performance.now();
        if (index > 0) gaps.push(now - lastEnd);
        lastEnd = performance.now();
        return index;
      });
    }
  });
  const flows = createFlows({ ...ports, prefix: `flows/${tag}/`, functions: [fn] });
  for (let run = 0; run < OVERHEAD_RUNS; run++) {
    await flows.send({ name: "bench/ten" });
    await flows.runDue();
  }
  await ports.close();
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    backend: `troupe flows (${backend.name})`,
    steps: sorted.length,
    "p50 ms": percentile(sorted, 50).toFixed(3),
    "p99 ms": percentile(sorted, 99).toFixed(3),
  };
}

const throughputRows: Record<string, string | number>[] = [];
const overheadRows: Record<string, string | number>[] = [];
for (const backend of backends) {
  throughputRows.push(await throughput(backend));
  overheadRows.push(await overhead(backend));
}

// DBOS Transact on the same PostgreSQL (its own fresh database): the same 3-step workflow, CONCURRENCY at a time, started
// in-process by calling the registered workflow (its fastest path; no queue), and the same 10-step gap probe.
await withScratchDatabases(postgresUrl, async (databases) => {
  await launchDbos((await databases.create("dbos")).url);
  const dbosMs = await dbosThroughput(WORKFLOWS, CONCURRENCY);
  throughputRows.push({
    backend: "DBOS Transact 5.3.0 (postgres)",
    workflows: WORKFLOWS,
    "workflows/s": Math.round((WORKFLOWS / dbosMs) * 1000),
    "steps/s": Math.round(((WORKFLOWS * 3) / dbosMs) * 1000),
  });
  const dbosGaps = (await dbosStepGaps(OVERHEAD_RUNS)).sort((a, b) => a - b);
  overheadRows.push({
    backend: "DBOS Transact 5.3.0 (postgres)",
    steps: dbosGaps.length,
    "p50 ms": percentile(dbosGaps, 50).toFixed(3),
    "p99 ms": percentile(dbosGaps, 99).toFixed(3),
  });
  await versusDbos(databases, true);
  await shutdownDbos();
});

const pgFlows = Number(
  throughputRows.find((row) => row.backend === "troupe flows (postgres)")?.["workflows/s"],
);
const dbos = Number(throughputRows.at(-1)?.["workflows/s"]);
for (const row of throughputRows)
  row["vs DBOS"] = `${(Number(row["workflows/s"]) / dbos).toFixed(2)}x`;
printTable(
  `3-step workflow throughput (${WORKFLOWS} workflows, ${CONCURRENCY} concurrent, one process)`,
  throughputRows,
);
printTable(
  `per-step engine overhead (${OVERHEAD_RUNS} sequential runs of ${OVERHEAD_STEPS} empty steps)`,
  overheadRows,
);
console.log(`troupe flows on postgres vs DBOS: ${(pgFlows / dbos).toFixed(2)}x`);

await commitsBench(postgresUrl);
await flowControlBench();
