// Flow-control benchmark: admission and dispatch of runs under a per-key concurrency limit, with
// 10 keys versus one key per run (100,000 distinct keys), the same number of runs each time.
// Run alone with `pnpm bench flow-control` (tsx --conditions=source bench/index.ts flow-control).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMemoryQueue,
  createMemoryStore,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { printTable } from "@troupe/testkit";
import { createFlows, createFunction } from "../src/index.js";

const RUNS = Number(process.env.FLOWS_BENCH_FC_RUNS ?? 100_000);
const BACKENDS = (process.env.FLOWS_BENCH_FC_BACKENDS ?? "memory,sqlite").split(",");
const LIMIT = 10;
const SEND_CHUNK = 1000;

interface Ports {
  readonly store: Store;
  readonly queue: Queue;
  close(): Promise<void>;
}

const backends: { name: string; open(): Ports }[] = [
  {
    name: "memory",
    open: () => ({
      store: createMemoryStore(),
      queue: createMemoryQueue({ clock: systemClock }),
      close: async () => {},
    }),
  },
  {
    name: "sqlite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "troupe-flows-fc-bench-"));
      const path = join(dir, "bench.db");
      const store = createSqliteStore({ path });
      const queue = createSqliteQueue({ path, clock: systemClock, queueName: "fc" });
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
];

/** Admits and then runs RUNS one-step runs spread over `keys` concurrency keys. */
async function measure(open: () => Ports, keys: number) {
  const ports = open();
  let completed = 0;
  const fn = createFunction(
    {
      id: "keyed",
      triggers: [{ event: "bench/keyed" }],
      concurrency: { limit: LIMIT, key: "event.data.key" },
    },
    async ({ step }) => {
      await step.run("work", () => 1);
      completed++;
    },
  );
  const flows = createFlows({
    store: ports.store,
    queue: ports.queue,
    functions: [fn],
    workerConcurrency: 32,
    keepProcessAlive: false,
  });
  const admitStarted = performance.now();
  for (let offset = 0; offset < RUNS; offset += SEND_CHUNK) {
    const count = Math.min(SEND_CHUNK, RUNS - offset);
    await flows.send(
      Array.from({ length: count }, (_, index) => ({
        name: "bench/keyed",
        data: { key: `k${(offset + index) % keys}` },
      })),
    );
  }
  const admitMs = performance.now() - admitStarted;
  const dispatchStarted = performance.now();
  await flows.runDue();
  const dispatchMs = performance.now() - dispatchStarted;
  if (completed !== RUNS) throw new Error(`only ${completed} of ${RUNS} runs completed`);
  await flows.close();
  await ports.close();
  return { admitMs, dispatchMs };
}

/** Runs the benchmark and prints its table. */
export async function flowControlBench(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const backend of backends.filter((entry) => BACKENDS.includes(entry.name))) {
    const few = await measure(backend.open, 10);
    console.log(
      `${backend.name}, 10 keys: admit ${Math.round(few.admitMs)} ms, dispatch ${Math.round(few.dispatchMs)} ms`,
    );
    const many = await measure(backend.open, RUNS);
    console.log(
      `${backend.name}, ${RUNS} keys: admit ${Math.round(many.admitMs)} ms, dispatch ${Math.round(many.dispatchMs)} ms`,
    );
    const rate = (ms: number) => Math.round((RUNS / ms) * 1000);
    for (const [label, result] of [
      ["10 keys", few],
      [`${RUNS.toLocaleString("en")} keys`, many],
    ] as const) {
      rows.push({
        backend: backend.name,
        keys: label,
        "admitted runs/s": rate(result.admitMs),
        "dispatched runs/s": rate(result.dispatchMs),
        "admission time vs 10 keys":
          result === few ? "1.00x" : `${(many.admitMs / few.admitMs).toFixed(2)}x`,
        "dispatch time vs 10 keys":
          result === few ? "1.00x" : `${(many.dispatchMs / few.dispatchMs).toFixed(2)}x`,
      });
    }
  }
  printTable(
    `concurrency keys: ${RUNS.toLocaleString("en")} one-step runs, limit ${LIMIT} per key, 10 keys vs one key per run (goal: ≤ 2.00x)`,
    rows,
  );
}
