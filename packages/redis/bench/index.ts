// pnpm --filter @troupe/redis bench: the standard Queue and Store benchmarks for the Redis
// adapter, with BullMQ 6 doing the same enqueue→claim→ack cycle on the same Redis for comparison.
import { cpus } from "node:os";
import { createMemoryQueue, createMemoryStore, type Queue } from "@troupe/core";
import {
  BACKLOG_SCENARIOS,
  benchQueue,
  benchQueueBacklog,
  benchStore,
  printTable,
} from "@troupe/testkit";
import { createRedisQueue, createRedisStore } from "../src/index.js";
import { connectOrFail, deleteKeys, openAdminClient, redisUrl } from "../test/redis-admin.js";
import { BULLMQ_VERSION, createBullmqBenchQueue } from "./bullmq-queue.js";

const durationMs = Number(process.env.TROUPE_BENCH_MS ?? 1200);
const rounds = Number(process.env.TROUPE_BENCH_ROUNDS ?? 3);
const run = `troupe-bench:${process.pid}-${Date.now().toString(36)}`;
const troupePrefix = `${run}:troupe:`;
const bullmqPrefix = `${run}:bullmq`;

type Row = Record<string, string | number>;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * Folds several rounds of the same table into one: the median of every number per
 * (adapter, operation), and the ratio of median ops/s to the first adapter's, named after it.
 * Rounds alternate the candidates, so load from other processes on this 2-core machine hits
 * them alike rather than whichever ran during a burst.
 */
function medianRows(roundsOfRows: readonly Row[][], firstName: string): Row[] {
  const first = roundsOfRows[0] ?? [];
  const medians = first.map((row, index) => {
    const out: Row = {};
    for (const [column, value] of Object.entries(row)) {
      if (column === "vs first") continue;
      out[column] =
        typeof value === "number"
          ? Math.round(median(roundsOfRows.map((rows) => Number(rows[index]?.[column] ?? 0))))
          : value;
    }
    return out;
  });
  const baseline = new Map<string, number>();
  for (const row of medians) {
    const operation = String(row.operation);
    if (!baseline.has(operation)) baseline.set(operation, Number(row["ops/s"]));
  }
  return medians.map((row) => ({
    ...row,
    [`vs ${firstName}`]: `${(Number(row["ops/s"]) / (baseline.get(String(row.operation)) || 1)).toFixed(2)}x`,
  }));
}

const cyclePayload = new TextEncoder().encode("x".repeat(100));
// BENCH_ONLY=backlog runs just the backlog table.
const only = process.env.BENCH_ONLY;

/**
 * Claim→ack against a standing backlog: one item or 50 per claim (50 acked by one ackMany; BullMQ
 * completes its jobs together, one script each), 5,000 or 20,000 queued, 1 or 10 consumers.
 */
async function backlogTable() {
  const rows = await benchQueueBacklog(
    [
      {
        name: "BullMQ",
        create: (queueName) =>
          createBullmqBenchQueue({ url: redisUrl, prefix: bullmqPrefix, queueName }),
      },
      {
        name: "redis (troupe)",
        create: (queueName) => createRedisQueue({ url: redisUrl, prefix: troupePrefix, queueName }),
      },
    ],
    BACKLOG_SCENARIOS,
    { sliceMs: Math.round(durationMs / 2), slices: 2 * rounds },
  );
  printTable(
    `Queue: claim→ack against a backlog (BullMQ ${BULLMQ_VERSION}, alternating slices)`,
    rows,
  );
}

/**
 * CPU time per enqueue→claim→ack cycle, in this process and in the Redis server (INFO cpu), over
 * `cycles` sequential cycles. Unlike throughput, CPU time hardly depends on what else the machine
 * is running, so it compares the two queues' work even when the 2 cores are busy. (Redis's figure
 * includes any other client of the same server during the run.)
 */
async function cpuPerCycle(name: string, create: () => Queue, cycles = 2000): Promise<Row> {
  const queue = create();
  const admin = openAdminClient();
  await connectOrFail(admin);
  const redisCpuUs = async () => {
    const info = await admin.info("cpu");
    const seconds = (field: string) =>
      Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return (seconds("used_cpu_sys") + seconds("used_cpu_user")) * 1e6;
  };
  const cycle = async () => {
    await queue.enqueue({ payload: cyclePayload });
    const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
    if (!lease) throw new Error(`${name}: the item just enqueued was not claimable`);
    await queue.ack(lease);
  };
  try {
    for (let i = 0; i < 200; i++) await cycle();
    const redisBefore = await redisCpuUs();
    const clientBefore = process.cpuUsage();
    const wallBefore = performance.now();
    for (let i = 0; i < cycles; i++) await cycle();
    const wallUs = (performance.now() - wallBefore) * 1000;
    const client = process.cpuUsage(clientBefore);
    const redisUs = (await redisCpuUs()) - redisBefore;
    return {
      adapter: name,
      cycles,
      "wall µs/cycle": Math.round(wallUs / cycles),
      "client CPU µs/cycle": Math.round((client.user + client.system) / cycles),
      "Redis CPU µs/cycle": Math.round(redisUs / cycles),
    };
  } finally {
    await queue.close();
    await admin.quit();
  }
}

try {
  console.log(
    `Redis ${redisUrl}, Node ${process.version}, ${cpus().length} cores, ${durationMs} ms per measurement, queue: median of ${rounds} rounds`,
  );
  if (only === "backlog") {
    await backlogTable();
  } else {
    await cycleTables();
    await backlogTable();
    await storeTable();
  }
} finally {
  const deleted = await deleteKeys(`${run}:`);
  console.log(`cleaned up ${deleted} benchmark keys under ${run}:`);
}

async function cycleTables() {
  const queueRounds: Row[][] = [];
  for (let round = 0; round < rounds; round++) {
    queueRounds.push(
      await benchQueue(
        [
          {
            name: `bullmq ${BULLMQ_VERSION}`,
            create: () =>
              createBullmqBenchQueue({ url: redisUrl, prefix: bullmqPrefix, queueName: "bench" }),
          },
          {
            name: "redis (troupe)",
            create: () =>
              createRedisQueue({ url: redisUrl, prefix: troupePrefix, queueName: "bench" }),
          },
          { name: "memory", create: () => createMemoryQueue({ queueName: "bench" }) },
        ],
        { durationMs },
      ),
    );
  }
  printTable("Queue: enqueue→claim→ack", medianRows(queueRounds, "BullMQ"));
  printTable("Queue: CPU per enqueue→claim→ack cycle", [
    await cpuPerCycle(`bullmq ${BULLMQ_VERSION}`, () =>
      createBullmqBenchQueue({ url: redisUrl, prefix: bullmqPrefix, queueName: "cpu" }),
    ),
    await cpuPerCycle("redis (troupe)", () =>
      createRedisQueue({ url: redisUrl, prefix: troupePrefix, queueName: "cpu" }),
    ),
  ]);
}

async function storeTable() {
  const storeRows = await benchStore(
    [
      { name: "memory", create: () => createMemoryStore() },
      {
        name: "redis (troupe)",
        create: () => createRedisStore({ url: redisUrl, prefix: troupePrefix }),
      },
    ],
    { durationMs },
  );
  printTable("Store", medianRows([storeRows], "memory"));
}
