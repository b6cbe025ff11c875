import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Queue, type Store, systemClock } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { describe, expect, it } from "vitest";
import { createFlows, createFunction } from "../src/index.js";

// Workflows driven one at a time on a started worker with the real clock. A wake-up the worker
// misses costs a whole poll interval (1 s here, against a few ms of work), so counting the
// workflows far above the median finds lost wake-ups without asserting any time.

const WORKFLOWS = 200;
/** Workflows run first and not counted (first calls compile and warm caches). */
const WARM_UP = 5;
const url = process.env.TROUPE_TEST_POSTGRES_URL;

interface Ports {
  readonly store: Store;
  readonly queue: Queue;
  close(): Promise<void>;
}

async function sequentialLatencies(ports: Ports, prefix: string): Promise<number[]> {
  let finish: (() => void) | undefined;
  const threeSteps = createFunction(
    { id: "three", triggers: [{ event: "t/three" }] },
    async ({ step }) => {
      const a = await step.run("a", () => 1);
      const b = await step.run("b", () => a + 1);
      const c = await step.run("c", () => b + 1);
      finish?.();
      return c;
    },
  );
  const flows = createFlows({
    store: ports.store,
    queue: ports.queue,
    prefix,
    functions: [threeSteps],
    keepProcessAlive: false,
    pollIntervalMs: 1000,
  });
  await flows.start();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < WARM_UP + WORKFLOWS; i++) {
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const started = performance.now();
      await flows.send({ name: "t/three", data: { i } });
      await done;
      if (i >= WARM_UP) latencies.push(performance.now() - started);
    }
  } finally {
    await flows.stop();
  }
  return latencies;
}

function slowerThanTenMedians(latencies: readonly number[]): number {
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  // A floor of 300 ms keeps a busy machine's scheduling hiccups out; a missed wake-up waits for
  // the idle timer it armed right after the check, the whole second.
  const limit = Math.max(10 * median, 300);
  return latencies.filter((latency) => latency > limit).length;
}

describe("one workflow at a time: no workflow waits for a poll", () => {
  it("on SQLite", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "troupe-flows-latency-"));
    const path = join(dir, "latency.db");
    const store = createSqliteStore({ path });
    const queue = createSqliteQueue({ path, clock: systemClock, queueName: "flows" });
    try {
      const latencies = await sequentialLatencies(
        { store, queue, close: async () => {} },
        "flows/",
      );
      expect(latencies).toHaveLength(WORKFLOWS);
      expect(slowerThanTenMedians(latencies)).toBe(0);
    } finally {
      await queue.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("on PostgreSQL", { timeout: 120_000 }, async () => {
    expect(url, "TROUPE_TEST_POSTGRES_URL must be set").toBeDefined();
    const schema = "troupe_flows_test";
    const tag = `lat${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
    const prefix = `flows/${tag}/`;
    const store = createPostgresStore({ connectionString: url ?? "", schema });
    const queue = createPostgresQueue({
      connectionString: url ?? "",
      schema,
      queueName: tag,
      clock: systemClock,
    });
    try {
      const latencies = await sequentialLatencies({ store, queue, close: async () => {} }, prefix);
      expect(latencies).toHaveLength(WORKFLOWS);
      expect(slowerThanTenMedians(latencies)).toBe(0);
    } finally {
      for (;;) {
        const entries = await store.list({ prefix, limit: 500 });
        if (entries.length === 0) break;
        await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
      }
      await queue.close();
      await store.close();
    }
  });
});
