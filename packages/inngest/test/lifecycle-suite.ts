import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { waitFor } from "@troupe/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";
import type { SdkKit } from "./sdk-kits.js";

const sqlitePorts = (path: string) => ({
  store: createSqliteStore({ path }),
  queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
  closePorts: true,
});

/** Restarts and cron, on SQLite, for one SDK major version. */
export function describeLifecycle(kit: SdkKit): void {
  describe(`${kit.label} app on a SQLite-backed Troupe`, () => {
    const dir = mkdtempSync(join(tmpdir(), "troupe-inngest-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("keeps synced apps across a restart: functions run without a new sync", async () => {
      const path = join(dir, "restart.db");
      let troupe = await startTroupe(sqlitePorts(path));
      const client = kit.client({ id: "durable", baseUrl: troupe.url });
      const fn = kit.fn(client, { id: "echo" }, [{ event: "demo/echo" }], async ({ event, step }) =>
        step.run("echo", () => ({ echoed: event.data.text })),
      );
      const app = await startApp(kit.serve(client, [fn]));
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
}
