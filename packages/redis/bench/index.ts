// pnpm --filter @troupe/redis bench: the standard Queue and Store benchmarks for the Redis
// adapter, with BullMQ 6 doing the same enqueue→claim→ack cycle on the same Redis for comparison.
import { cpus } from "node:os";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { benchQueue, benchStore, printTable } from "@troupe/testkit";
import { createRedisQueue, createRedisStore } from "../src/index.js";
import { deleteKeys, redisUrl } from "../test/redis-env.js";
import { BULLMQ_VERSION, createBullmqBenchQueue } from "./bullmq-queue.js";

const durationMs = Number(process.env.TROUPE_BENCH_MS ?? 1500);
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

try {
  console.log(
    `Redis ${redisUrl}, Node ${process.version}, ${cpus().length} cores, ${durationMs} ms per measurement, queue: median of ${rounds} rounds`,
  );
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
} finally {
  const deleted = await deleteKeys(`${run}:`);
  console.log(`cleaned up ${deleted} benchmark keys under ${run}:`);
}
