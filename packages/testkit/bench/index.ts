// pnpm --filter @troupe/testkit bench — the standard port benchmarks on the in-memory ports (the
// baseline every adapter's table is compared with) and the measuring loop's own overhead.
import { createMemoryQueue, createMemoryStore, systemClock } from "@troupe/core";
import { benchQueue, benchStore, measureThroughput, printTable } from "../src/index.js";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 1500);

const overhead = await measureThroughput("no-op", () => {}, { durationMs });
const asyncOverhead = await measureThroughput("await of a resolved promise", async () => {}, {
  durationMs,
});
printTable(
  "measureThroughput overhead (the floor under every number below)",
  [overhead, asyncOverhead].map((result) => ({
    operation: result.name,
    "ops/s": Math.round(result.opsPerSec),
    "p50 µs": Number((result.p50Us ?? 0).toFixed(2)),
    "p99 µs": Number((result.p99Us ?? 0).toFixed(2)),
  })),
);

printTable(
  "Store: memory",
  await benchStore([{ name: "memory", create: () => createMemoryStore() }], { durationMs }),
);

printTable(
  "Queue: memory",
  await benchQueue(
    [
      {
        name: "memory",
        create: () => createMemoryQueue({ clock: systemClock, queueName: "bench" }),
      },
    ],
    { durationMs },
  ),
);
