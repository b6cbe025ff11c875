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
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createRedisQueue, createRedisStore } from "@troupe/redis";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { waitFor } from "@troupe/testkit";
import { describe, expect, it } from "vitest";
import { createFlows, createFunction } from "../src/index.js";

const BACKLOG = 10_000;
const OTHERS = 10;
const LIMIT = 2;
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Deletes a test's keys and drains its queue, then closes both. */
async function drain(store: Store, queue: Queue, prefix: string) {
  for (;;) {
    const entries = await store.list({ prefix, limit: 2000 });
    if (entries.length === 0) break;
    await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
  }
  for (;;) {
    const leases = await queue.claim({ limit: 500, leaseMs: 60_000 });
    if (leases.length === 0) break;
    for (const lease of leases) await queue.ack(lease);
  }
  await queue.close();
  await store.close();
}

interface FairnessPorts {
  readonly store: Store;
  readonly queue: Queue;
  close(prefix: string): Promise<void>;
}

const adapters: { name: string; open(tag: string): FairnessPorts }[] = [
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
    open(tag) {
      const dir = mkdtempSync(join(tmpdir(), "troupe-flows-fair-"));
      const path = join(dir, "fair.db");
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
      const schema = "troupe_flows_test";
      const store = createPostgresStore({ connectionString: postgresUrl, schema });
      const queue = createPostgresQueue({
        connectionString: postgresUrl,
        schema,
        queueName: tag,
        clock: systemClock,
      });
      return {
        store,
        queue,
        close: (prefix) => drain(store, queue, prefix),
      };
    },
  },
  {
    name: "redis",
    open(tag) {
      const store = createRedisStore({ url: redisUrl, prefix: `troupe_flows_test:${tag}:` });
      const queue = createRedisQueue({
        url: redisUrl,
        prefix: `troupe_flows_test:${tag}:`,
        queueName: tag,
        clock: systemClock,
      });
      return { store, queue, close: (prefix) => drain(store, queue, prefix) };
    },
  },
];

// Per-key concurrency must be fair between keys: a backlog of 10,000 runs on key A is parked in
// the Store behind A's two slots, so key B's ten runs start at once instead of after A's backlog.
describe("fairness between concurrency keys", () => {
  for (const adapter of adapters) {
    it(`${adapter.name}: ${OTHERS} runs on key B finish while key A still has > 9,000 of ${BACKLOG} queued`, async () => {
      const tag = `fair${Date.now().toString(36)}${process.pid}`;
      const prefix = `flows/${tag}/`;
      const ports = adapter.open(tag);
      const started = { A: 0, B: 0 };
      const finished = { A: 0, B: 0 };
      const fn = createFunction(
        {
          id: "tenant-job",
          triggers: [{ event: "tenant/job" }],
          concurrency: { limit: LIMIT, key: "event.data.tenant" },
        },
        async ({ event, step }) => {
          const tenant = event.data.tenant as "A" | "B";
          await step.run("work", () => {
            started[tenant]++;
            return tenant;
          });
          finished[tenant]++;
        },
      );
      const flows = createFlows({
        store: ports.store,
        queue: ports.queue,
        prefix,
        functions: [fn],
        keepProcessAlive: false,
        pollIntervalMs: 50,
      });
      try {
        const sendStarted = performance.now();
        const backlog = Array.from({ length: BACKLOG }, (_, n) => ({
          name: "tenant/job",
          data: { tenant: "A", n },
        }));
        await flows.send(backlog);
        await flows.send(
          Array.from({ length: OTHERS }, (_, n) => ({
            name: "tenant/job",
            data: { tenant: "B", n },
          })),
        );
        const sentMs = performance.now() - sendStarted;
        const before = await flows.getFlowControlState("tenant-job");
        const keyA = before.concurrency.find((key) => key.key === "A");
        expect(keyA?.queued).toBe(BACKLOG);

        const runStarted = performance.now();
        await flows.start();
        await waitFor(() => finished.B === OTHERS, {
          timeoutMs: 15_000,
          what: "key B's runs to finish",
        });
        const doneMs = performance.now() - runStarted;
        const startedA = started.A;
        await flows.stop();
        expect(BACKLOG - startedA).toBeGreaterThan(9000);
        const after = await flows.getFlowControlState("tenant-job");
        expect(after.concurrency.find((key) => key.key === "A")?.queued).toBeGreaterThan(9000);
        console.log(
          `fairness ${adapter.name}: sent ${BACKLOG + OTHERS} events in ${Math.round(sentMs)} ms; B's ${OTHERS} runs finished ${Math.round(doneMs)} ms after start, when A had started ${startedA} (${BACKLOG - startedA} still queued)`,
        );
      } finally {
        await flows.stop();
        await ports.close(prefix);
      }
    }, 30_000);
  }
});
