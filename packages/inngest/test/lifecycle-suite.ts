import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Queue, type Store, systemClock } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { waitFor } from "@troupe/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";
import type { SdkKit } from "./sdk-kits.js";

/** Durable ports for a Troupe; the same `name` opens the same data again. */
export interface LifecycleBackend {
  readonly label: string;
  open(name: string): {
    store: Store;
    queue: Queue;
    prefix: string;
    flowsPrefix: string;
    closePorts: true;
  };
  /** Removes what the tests left behind. */
  cleanup(): Promise<void>;
}

/** SQLite files in a scratch folder. */
export function sqliteBackend(): LifecycleBackend {
  const dir = mkdtempSync(join(tmpdir(), "troupe-inngest-"));
  return {
    label: "SQLite",
    open(name) {
      const path = join(dir, `${name}.db`);
      return {
        store: createSqliteStore({ path }),
        queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
        prefix: "inngest/",
        flowsPrefix: "flows/",
        closePorts: true,
      };
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One PostgreSQL schema; each test has its own key prefixes and queue name. */
export function postgresBackend(): LifecycleBackend {
  const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = "troupe_inngest_test";
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const prefixes: string[] = [];
  return {
    label: "PostgreSQL",
    open(name) {
      const tag = `${run}-${name}`;
      prefixes.push(`inngest/${tag}/`, `flows/${tag}/`);
      return {
        store: createPostgresStore({ connectionString: url, schema }),
        queue: createPostgresQueue({
          connectionString: url,
          schema,
          queueName: tag,
          clock: systemClock,
        }),
        prefix: `inngest/${tag}/`,
        flowsPrefix: `flows/${tag}/`,
        closePorts: true,
      };
    },
    async cleanup() {
      const store = createPostgresStore({ connectionString: url, schema });
      try {
        for (const prefix of new Set(prefixes)) {
          for (;;) {
            const entries = await store.list({ prefix, limit: 500 });
            if (entries.length === 0) break;
            await store.commit(
              entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
            );
          }
        }
      } finally {
        await store.close();
      }
    },
  };
}

/** Restarts and cron on durable ports, for one SDK major version. */
export function describeLifecycle(kit: SdkKit, backend: LifecycleBackend): void {
  describe(`${kit.label} app on a ${backend.label}-backed Troupe`, () => {
    afterAll(() => backend.cleanup());

    it("keeps synced apps across a restart: functions run without a new sync", async () => {
      let troupe = await startTroupe(backend.open("restart"));
      const client = kit.client({ id: "durable", baseUrl: troupe.url });
      const fn = kit.fn(client, { id: "echo" }, [{ event: "demo/echo" }], async ({ event, step }) =>
        step.run("echo", () => ({ echoed: event.data.text })),
      );
      const app = await startApp(kit.serve(client, [fn]));
      try {
        expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
        await troupe.close();
        troupe = await startTroupe(backend.open("restart"));
        expect(troupe.api.apps().map((a) => a.appName)).toEqual(["durable"]);
        const response = await fetch(`${troupe.url}/e/key`, {
          method: "POST",
          body: JSON.stringify([{ name: "demo/echo", data: { text: "still here" } }]),
        });
        const { ids } = (await response.json()) as { ids: string[] };
        const [run] = await finishedRuns(troupe.url, ids[0] ?? "");
        expect(run).toMatchObject({ status: "Completed", output: { echoed: "still here" } });
      } finally {
        await app.close();
        await troupe.close();
      }
    });

    it("fires a cron function synced while Troupe runs", async () => {
      const troupe = await startTroupe(backend.open("cron"));
      const client = kit.client({ id: "crony", baseUrl: troupe.url });
      const fn = kit.fn(
        client,
        { id: "tick" },
        [{ cron: "* * * * * *" }],
        async ({ event, step }) => step.run("tick", () => ({ trigger: event.name })),
      );
      const app = await startApp(kit.serve(client, [fn]));
      try {
        expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
        let eventId = "";
        await waitFor(
          async () => {
            const list = (await (
              await fetch(`${troupe.url}/v1/events?name=inngest/scheduled.timer`)
            ).json()) as {
              data: { internal_id: string }[];
            };
            eventId = list.data[0]?.internal_id ?? "";
            return eventId !== "";
          },
          { timeoutMs: 5000, what: "a cron tick" },
        );
        const [run] = await finishedRuns(troupe.url, eventId);
        expect(run).toMatchObject({
          status: "Completed",
          output: { trigger: "inngest/scheduled.timer" },
        });
      } finally {
        await app.close();
        await troupe.close();
      }
    });
  });
}
