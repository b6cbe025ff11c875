import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { afterAll, describe, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const dir = mkdtempSync(join(tmpdir(), "troupe-inngest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqlitePorts = (path: string) => ({
  store: createSqliteStore({ path }),
  queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
  closePorts: true,
});

describe("inngest v4 app on a SQLite-backed Troupe", () => {
  it("keeps synced apps across a restart: functions run without a new sync", async () => {
    const path = join(dir, "restart.db");
    let troupe = await startTroupe(sqlitePorts(path));
    const client = new Inngest({ id: "durable", isDev: true, baseUrl: troupe.url, logger: silent });
    const fn = client.createFunction(
      { id: "echo", triggers: [{ event: "demo/echo" }] },
      async ({ event, step }) => step.run("echo", () => ({ echoed: event.data.text })),
    );
    const app = await startApp(serve({ client, functions: [fn] }));
    try {
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
      await troupe.close();
      troupe = await startTroupe(sqlitePorts(path));
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

  it("fires a cron function", async () => {
    // Cron ticks are scheduled when the worker starts, so the app is synced first.
    const troupe = await startTroupe({ ...sqlitePorts(join(dir, "cron.db")), deferStart: true });
    const client = new Inngest({ id: "crony", isDev: true, baseUrl: troupe.url, logger: silent });
    const fn = client.createFunction(
      { id: "tick", triggers: [{ cron: "* * * * * *" }] },
      async ({ event, step }) => step.run("tick", () => ({ trigger: event.name })),
    );
    const app = await startApp(serve({ client, functions: [fn] }));
    try {
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
      await troupe.startFlows();
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
