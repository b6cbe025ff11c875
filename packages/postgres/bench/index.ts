// Benchmarks of the PostgreSQL adapters, with pg-boss 10 on the same database as the reference
// for the queue cycle. Run with `pnpm --filter @troupe/postgres bench`.
import { cpus, loadavg } from "node:os";
import { createMemoryQueue, createMemoryStore, type Lease, type Queue } from "@troupe/core";
import {
  BACKLOG_SCENARIOS,
  benchQueue,
  benchQueueBacklog,
  benchStore,
  measureThroughput,
  printTable,
} from "@troupe/testkit";
import pg from "pg";
import { createPostgresQueue, createPostgresStore } from "../src/index.js";
import { openPgBossQueue } from "./pg-boss-queue.js";

const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schemas = {
  troupe: `troupe_bench_${process.pid}`,
  pgBoss: `troupe_bench_pgboss_${process.pid}`,
};
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 1500);
const payload = new TextEncoder().encode("x".repeat(100));
// BENCH_ONLY=backlog runs just the backlog table (the slow part to iterate on).
const only = process.env.BENCH_ONLY;

const admin = new pg.Pool({ connectionString: url, max: 1 });
const dropSchemas = async () => {
  for (const schema of Object.values(schemas)) {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
};

// The same cycles as the testkit's benchQueue.
const singleCycle = async (queue: Queue) => {
  await queue.enqueue({ payload });
  const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
  if (!lease) throw new Error("the item just enqueued was not claimable");
  await queue.ack(lease);
};
const batchedCycle = async (queue: Queue) => {
  await queue.enqueueMany(Array.from({ length: 100 }, () => ({ payload })));
  const leases: Lease[] = [];
  for (let attempt = 0; leases.length < 100 && attempt < 100; attempt++) {
    leases.push(...(await queue.claim({ limit: 100 - leases.length, leaseMs: 60_000 })));
  }
  if (leases.length < 100) throw new Error(`claimed ${leases.length} of 100 items`);
  for (const lease of leases) await queue.ack(lease);
};

/**
 * Commit latency on a shared machine swings by several times within seconds, so measuring one
 * library after the other can favour either. Here both run in alternating short slices and the
 * totals are compared.
 */
async function headToHead(
  candidates: readonly { name: string; queue: Queue }[],
  slices: number,
  sliceMs: number,
) {
  const rows: Record<string, string | number>[] = [];
  for (const [operation, cycle, items] of [
    ["enqueue→claim→ack (1 item)", singleCycle, 1],
    ["batched cycle (100 items)", batchedCycle, 100],
  ] as const) {
    const totals = candidates.map(() => ({ operations: 0, ms: 0, wins: 0 }));
    for (let slice = 0; slice < slices; slice++) {
      const rates = [];
      for (const [index, { queue }] of candidates.entries()) {
        const result = await measureThroughput(operation, () => cycle(queue), {
          durationMs: sliceMs,
          warmupMs: 50,
        });
        const total = totals[index];
        if (total) {
          total.operations += result.operations;
          total.ms += result.ms;
        }
        rates.push(result.opsPerSec);
      }
      const best = rates.indexOf(Math.max(...rates));
      const winner = totals[best];
      if (winner) winner.wins++;
    }
    const baseline = totals[0] ? (totals[0].operations * 1000) / totals[0].ms : 0;
    for (const [index, { name }] of candidates.entries()) {
      const total = totals[index] ?? { operations: 0, ms: 1, wins: 0 };
      const rate = (total.operations * 1000) / total.ms;
      rows.push({
        adapter: name,
        operation,
        "ops/s": Math.round(rate),
        "items/s": Math.round(rate * items),
        "slices won": `${total.wins}/${slices}`,
        "vs pg-boss": `${(rate / baseline).toFixed(2)}x`,
      });
    }
  }
  return rows;
}

try {
  const version = await admin.query<{ server_version: string }>("SHOW server_version");
  console.log(
    `PostgreSQL ${version.rows[0]?.server_version} at ${url.replace(/\/\/[^@]*@/, "//")}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}, ${durationMs} ms per measurement`,
  );
  await dropSchemas();

  if (only !== "backlog") await cycleTables();
  await backlogTable();
  if (only !== "backlog") await storeTable();
  console.log(`load average at the end: ${loadavg()[0]?.toFixed(1)}`);
} finally {
  await dropSchemas();
  await admin.end();
}

async function cycleTables() {
  const queueRows = await benchQueue(
    [
      { name: "pg-boss 10.4.2", create: () => openPgBossQueue(url, schemas.pgBoss) },
      {
        name: "postgres (Troupe)",
        create: () =>
          createPostgresQueue({
            connectionString: url,
            schema: schemas.troupe,
            queueName: "bench",
          }),
      },
      { name: "memory", create: () => createMemoryQueue({ queueName: "bench" }) },
    ],
    { durationMs },
  );
  printTable("Queue, benchQueue (one after the other; vs first = vs pg-boss)", queueRows);

  const boss = await openPgBossQueue(url, schemas.pgBoss);
  const troupe = createPostgresQueue({
    connectionString: url,
    schema: schemas.troupe,
    queueName: "head-to-head",
  });
  try {
    const rows = await headToHead(
      [
        { name: "pg-boss 10.4.2", queue: boss },
        { name: "postgres (Troupe)", queue: troupe },
      ],
      6,
      Math.round(durationMs / 3),
    );
    printTable("Queue, head to head (alternating slices, same cycles)", rows);
  } finally {
    await Promise.all([boss.close(), troupe.close()]);
  }
}

async function backlogTable() {
  // Claim→ack against a standing backlog: one item or 50 per claim (50 acked by one ackMany, and
  // by one `complete([...ids])` for pg-boss), 5,000 or 20,000 queued, 1 or 10 consumers.
  const backlogRows = await benchQueueBacklog(
    [
      {
        name: "pg-boss 10.4.2",
        create: (queueName) => openPgBossQueue(url, schemas.pgBoss, queueName),
      },
      {
        name: "postgres (Troupe)",
        create: (queueName) =>
          createPostgresQueue({ connectionString: url, schema: schemas.troupe, queueName }),
      },
    ],
    BACKLOG_SCENARIOS,
    { sliceMs: Math.round(durationMs / 2), slices: 4 },
  );
  printTable("Queue, claim→ack against a backlog (alternating slices)", backlogRows);
}

async function storeTable() {
  const storeRows = await benchStore(
    [
      {
        name: "postgres (Troupe)",
        create: () => createPostgresStore({ connectionString: url, schema: schemas.troupe }),
      },
      { name: "memory", create: () => createMemoryStore() },
    ],
    { durationMs },
  );
  printTable("Store (vs first = vs postgres)", storeRows);
}
