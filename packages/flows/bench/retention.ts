// Retention benchmark (`pnpm bench retention`): how fast the sweeper deletes expired events and
// runs on SQLite, PostgreSQL and Redis, and what the expiry index costs when sending events.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryMetrics, ManualClock, type Queue, type Store } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createRedisQueue, createRedisStore } from "@troupe/redis";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { printTable } from "@troupe/testkit";
import { createFlows, createFunction } from "../src/index.js";

const EVENTS = Number(process.env.FLOWS_BENCH_RETENTION_EVENTS ?? 3000);
const DAY = 86_400_000;

interface Ports {
  readonly store: Store;
  readonly queue: Queue;
  close(): Promise<void>;
}

function backends(postgresUrl: string, redisUrl: string) {
  return [
    {
      name: "sqlite",
      open(tag: string, clock: ManualClock): Ports {
        const dir = mkdtempSync(join(tmpdir(), "troupe-retention-bench-"));
        const path = join(dir, "bench.db");
        const store = createSqliteStore({ path });
        const queue = createSqliteQueue({ path, clock, queueName: tag });
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
      open(tag: string, clock: ManualClock): Ports {
        const schema = "troupe_flows_bench";
        const store = createPostgresStore({ connectionString: postgresUrl, schema });
        const queue = createPostgresQueue({
          connectionString: postgresUrl,
          schema,
          queueName: tag,
          clock,
        });
        return {
          store,
          queue,
          async close() {
            await queue.close();
            await store.close();
          },
        };
      },
    },
    {
      name: "redis",
      open(tag: string, clock: ManualClock): Ports {
        const store = createRedisStore({ url: redisUrl, prefix: `troupe_bench:${tag}:` });
        const queue = createRedisQueue({
          url: redisUrl,
          prefix: `troupe_bench:${tag}:`,
          queueName: tag,
          clock,
        });
        return {
          store,
          queue,
          async close() {
            await queue.close();
            await store.close();
          },
        };
      },
    },
  ];
}

async function removeKeys(store: Store, prefix: string): Promise<void> {
  for (;;) {
    const page = await store.list({ prefix, limit: 1000 });
    if (page.length === 0) return;
    await store.commit(page.map((entry) => ({ type: "delete", key: entry.key }) as const));
  }
}

/** Sends EVENTS events (batches of 100) and runs them; then sweeps them all 8 days later. */
async function one(
  backend: ReturnType<typeof backends>[number],
  retention: boolean,
): Promise<{ sendMs: number; sweepMs?: number; removed?: number; passes?: number }> {
  const tag = `r${Date.now().toString(36)}${retention ? "on" : "off"}`;
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const ports = backend.open(tag, clock);
  const prefix = `flows/${tag}/`;
  const metrics = createMemoryMetrics();
  const fn = createFunction({ id: "one", triggers: [{ event: "b/one" }] }, async () => 1);
  const flows = createFlows({
    store: ports.store,
    queue: ports.queue,
    clock,
    prefix,
    metrics,
    functions: [fn],
    retention: retention ? {} : false,
    workerConcurrency: 64,
  });
  try {
    const started = performance.now();
    for (let sent = 0; sent < EVENTS; sent += 100) {
      await flows.send(Array.from({ length: 100 }, (_, n) => ({ name: "b/one", data: { n } })));
    }
    const sendMs = performance.now() - started;
    await flows.runDue();
    if (!retention) return { sendMs };
    await clock.advance(8 * DAY);
    const sweepStarted = performance.now();
    while (
      (await flows.listRuns({ limit: 1 })).length > 0 ||
      (await flows.listEvents({ limit: 1 })).length > 0
    ) {
      await flows.sweep();
    }
    const sweepMs = performance.now() - sweepStarted;
    const removed =
      metrics.value("troupe_retention_removed_total", { kind: "event" }) +
      metrics.value("troupe_retention_removed_total", { kind: "run" });
    return { sendMs, sweepMs, removed, passes: metrics.value("troupe_retention_passes_total") };
  } finally {
    await flows.close();
    await removeKeys(ports.store, prefix);
    await ports.close();
  }
}

/** Prints the retention table. */
export async function retentionBench(postgresUrl: string, redisUrl: string): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const backend of backends(postgresUrl, redisUrl)) {
    const off = await one(backend, false);
    const on = await one(backend, true);
    const sweepMs = on.sweepMs ?? 0;
    rows.push({
      backend: backend.name,
      "send, retention off (events/s)": Math.round((EVENTS / off.sendMs) * 1000),
      "send, retention on (events/s)": Math.round((EVENTS / on.sendMs) * 1000),
      "records swept": on.removed ?? 0,
      passes: on.passes ?? 0,
      "sweep (records/s)": Math.round(((on.removed ?? 0) / sweepMs) * 1000),
    });
  }
  printTable(
    `retention: ${EVENTS.toLocaleString("en")} events, each starting a one-step run; then every event and run expired and swept (batches of 500)`,
    rows,
  );
}
