// pnpm --filter @troupe/redis bench: the standard Queue and Store benchmarks for the Redis
// adapter, with BullMQ 6 doing the same enqueue→claim→ack cycle on the same Redis for comparison.
import { cpus } from "node:os";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { benchQueue, benchStore, printTable } from "@troupe/testkit";
import { createRedisQueue, createRedisStore } from "../src/index.js";
import { deleteKeys, redisUrl } from "../test/redis-env.js";
import { BULLMQ_VERSION, createBullmqBenchQueue } from "./bullmq-queue.js";

const durationMs = Number(process.env.TROUPE_BENCH_MS ?? 1500);
const run = `troupe-bench:${process.pid}-${Date.now().toString(36)}`;
const troupePrefix = `${run}:troupe:`;
const bullmqPrefix = `${run}:bullmq`;

/** Renames the testkit's "vs first" column to say what the first row is. */
function versus(rows: Record<string, string | number>[], first: string) {
  return rows.map(({ "vs first": ratio, ...row }) => ({ ...row, [`vs ${first}`]: ratio ?? "" }));
}

try {
  console.log(
    `Redis ${redisUrl}, Node ${process.version}, ${cpus().length} cores, ${durationMs} ms per measurement`,
  );
  const queueRows = await benchQueue(
    [
      {
        name: `bullmq ${BULLMQ_VERSION}`,
        create: () =>
          createBullmqBenchQueue({ url: redisUrl, prefix: bullmqPrefix, queueName: "bench" }),
      },
      {
        name: "redis (troupe)",
        create: () => createRedisQueue({ url: redisUrl, prefix: troupePrefix, queueName: "bench" }),
      },
      { name: "memory", create: () => createMemoryQueue({ queueName: "bench" }) },
    ],
    { durationMs },
  );
  printTable("Queue: enqueue→claim→ack", versus(queueRows, "BullMQ"));

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
  printTable("Store", versus(storeRows, "memory"));
} finally {
  const deleted = await deleteKeys(`${run}:`);
  console.log(`cleaned up ${deleted} benchmark keys under ${run}:`);
}
