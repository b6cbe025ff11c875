import { createRedisQueue, createRedisStore } from "@troupe/redis";
import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, type RestRun, runsOf, startApp, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import type { Client, SdkKit, Trigger } from "./sdk-kits.js";

/** Redis, with a key prefix and queue name of its own per test run. */
export function redisBackend(): LifecycleBackend {
  const url = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const tags = new Set<string>();
  return {
    label: "Redis",
    open(name) {
      const tag = `troupe_inngest_test:${run}-${name}:`;
      tags.add(tag);
      return {
        store: createRedisStore({ url, prefix: tag }),
        queue: createRedisQueue({ url, prefix: tag, queueName: `${run}-${name}` }),
        prefix: "inngest/",
        flowsPrefix: "flows/",
        closePorts: true,
      };
    },
    async cleanup() {
      for (const tag of tags) {
        const store = createRedisStore({ url, prefix: tag });
        try {
          for (;;) {
            const entries = await store.list({ limit: 500 });
            if (entries.length === 0) break;
            await store.commit(
              entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
            );
          }
        } finally {
          await store.close();
        }
      }
    },
  };
}

/**
 * Operations on a synced SDK app through REST: pause and resume, bulk cancellation
 * (`/v1/cancellations`), bulk replay (`/v1/replays`), cancelling a run cancels what it invoked,
 * and (where the SDK has it) cron jitter.
 */
export function describeOperations(
  kit: SdkKit,
  backend: LifecycleBackend,
  features: {
    readonly cronJitter: boolean;
    /**
     * The SDK hands a waited-for event to the handler whatever its name (v3). v4 checks the
     * event's name against the `event` it waited for, so a wait for `a|b` is refused there;
     * the prefix-wildcard form (`event: "ops/*"`, names in `if`) works with both.
     */
    readonly waitAnyByName: boolean;
  },
): void {
  describe(`${kit.label}: operations on a ${backend.label}-backed Troupe`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;
    let healthy = false;

    const send = async (name: string, data: Record<string, unknown> = {}) => {
      const { ids } = await client.send({ name, data });
      const id = ids[0];
      if (!id) throw new Error("no event id");
      return id;
    };
    const rest = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${troupe.url}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        ...(body === undefined
          ? {}
          : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    const runOf = async (runId: string) => {
      const { json } = await rest("GET", `/v1/runs/${runId}`);
      return json.data as RestRun;
    };
    /** The run an event started, once it exists. */
    const startedRun = async (eventId: string) => {
      let run: RestRun | undefined;
      await waitFor(async () => {
        run = (await runsOf(troupe.url, eventId))[0];
        return run !== undefined;
      });
      return run as RestRun;
    };
    /** The run `functionId` started for parent run `parentRunId` with `step.invoke`. */
    const childOf = async (functionId: string, parentRunId: string) => {
      let childId = "";
      await waitFor(async () => {
        for (const summary of await troupe.flows.listRuns({ functionId })) {
          const view = await troupe.flows.getRun(summary.id);
          if (view?.parentRunId === parentRunId) childId = view.id;
        }
        return childId !== "";
      });
      return childId;
    };
    const soon = () => new Date(Date.now() + 60_000).toISOString();

    beforeAll(async () => {
      troupe = await startTroupe(backend.open("ops"));
      client = kit.client({ id: "ops", baseUrl: troupe.url });
      const grand = kit.fn(client, { id: "grand" }, [{ event: "ops/grand" }], async ({ step }) => {
        await step.sleep("long", "1h");
        return "woke";
      });
      const middle = kit.fn(client, { id: "middle" }, [{ event: "ops/middle" }], async ({ step }) =>
        step.invoke("grand", { function: grand, data: { from: "middle" } }),
      );
      const functions = [
        grand,
        middle,
        kit.fn(client, { id: "pausable" }, [{ event: "ops/pause" }], async ({ event }) => ({
          n: event.data.n,
        })),
        kit.fn(client, { id: "sleeper" }, [{ event: "ops/sleep" }], async ({ step }) => {
          await step.sleep("long", "1h");
          return "woke";
        }),
        kit.fn(client, { id: "flaky", retries: 0 }, [{ event: "ops/flaky" }], async ({ event }) => {
          if (!healthy) throw new kit.NonRetriableError("not yet");
          return { n: event.data.n };
        }),
        kit.fn(
          client,
          { id: "collector", debounce: { period: "1s", key: "event.data.user", collect: true } },
          [{ event: "ops/typed" }],
          async ({ events }) => events.map((event) => event.data.n),
        ),
        kit.fn(client, { id: "outcome" }, [{ event: "ops/placed" }], async ({ step }) => {
          const got = await step.waitForEvent("outcome", {
            event: "ops/paid|ops/cancelled",
            match: "data.order",
            timeout: "1h",
          });
          return got ? { name: got.name, order: got.data.order } : null;
        }),
        kit.fn(client, { id: "outcome-wild" }, [{ event: "ops/ordered" }], async ({ step }) => {
          const got = await step.waitForEvent("outcome", {
            event: "ops/*",
            if: "(async.name == 'ops/paid' || async.name == 'ops/cancelled') && event.data.order == async.data.order",
            timeout: "1h",
          });
          return got ? { name: got.name, order: got.data.order } : null;
        }),
        kit.fn(
          client,
          { id: "wild-unnamed", retries: 0 },
          [{ event: "ops/unnamed" }],
          async ({ step }) => step.waitForEvent("w", { event: "ops/*", timeout: "1h" }),
        ),
        kit.fn(client, { id: "parent" }, [{ event: "ops/parent" }], async ({ step }) =>
          step.invoke("middle", { function: middle, data: {} }),
        ),
        kit.fn(client, { id: "detached" }, [{ event: "ops/detached" }], async ({ step }) =>
          step.invoke("grand", {
            function: grand,
            data: { tag: "d", _troupe: { cascadeCancel: false } },
          }),
        ),
        ...(features.cronJitter
          ? [
              kit.fn(
                client,
                { id: "jittery" },
                [{ cron: "* * * * * *", jitter: "400ms" } as Trigger],
                async ({ event }) => ({ trigger: event.name }),
              ),
            ]
          : []),
      ];
      app = await startApp(kit.serve(client, functions));
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
      await backend.cleanup();
    });

    it("pause keeps events but starts no run for them, also not after resume", async () => {
      expect((await rest("POST", "/v1/functions/ops-pausable/pause", { reason: 5 })).status).toBe(
        400,
      );
      const refused = await rest("POST", "/v1/functions/ops-pausable/pause", { reason: 5 });
      expect(String(refused.json.error)).toContain("body.reason");
      expect((await rest("POST", "/v1/functions/ops-nope/pause")).status).toBe(404);

      const paused = await rest("POST", "/v1/functions/ops-pausable/pause", { reason: "deploy" });
      expect(paused).toMatchObject({
        status: 200,
        json: { data: { paused: true, changed: true } },
      });
      expect((await rest("GET", "/v1/functions/paused")).json.data).toEqual([
        expect.objectContaining({ function_id: "ops-pausable", reason: "deploy" }),
      ]);
      const whilePaused = await send("ops/pause", { n: 1 });
      // The event is stored, and its skip says why no run started.
      expect((await rest("GET", `/v1/events/${whilePaused}`)).status).toBe(200);
      expect((await troupe.flows.getEventRuns(whilePaused)).skipped).toEqual([
        expect.objectContaining({ functionId: "ops-pausable", reason: "paused" }),
      ]);

      const resumed = await rest("POST", "/v1/functions/ops-pausable/resume");
      expect(resumed).toMatchObject({ status: 200, json: { data: { paused: false } } });
      const afterResume = await send("ops/pause", { n: 2 });
      const [run] = await finishedRuns(troupe.url, afterResume);
      expect(run).toMatchObject({ status: "Completed", output: { n: 2 } });
      expect(await runsOf(troupe.url, whilePaused)).toEqual([]);
      expect((await rest("GET", "/v1/functions/paused")).json.data).toEqual([]);
    });

    it("bulk cancellation in Inngest's shape: bad requests change nothing, `if` narrows", async () => {
      const startedAfter = new Date(Date.now() - 1000).toISOString();
      const events = [
        await send("ops/sleep", { user: "a" }),
        await send("ops/sleep", { user: "a" }),
        await send("ops/sleep", { user: "b" }),
      ];
      const runs = await Promise.all(events.map(startedRun));
      const base = { app_id: "ops", function_id: "sleeper", started_after: startedAfter };

      const missing = await rest("POST", "/v1/cancellations", base);
      expect(missing.status).toBe(400);
      expect(String(missing.json.error)).toContain("body.started_before");
      const badIf = await rest("POST", "/v1/cancellations", {
        ...base,
        started_before: soon(),
        if: "event.data.user ==",
      });
      expect(badIf.status).toBe(400);
      expect(String(badIf.json.error)).toContain("body.if");
      const unknown = await rest("POST", "/v1/cancellations", {
        ...base,
        function_id: "nope",
        started_before: soon(),
      });
      expect(unknown.status).toBe(404);
      expect((await rest("POST", "/v1/cancellations", "{not json")).status).toBe(400);
      for (const run of runs) expect((await runOf(run.run_id)).status).toBe("Running");

      const created = await rest("POST", "/v1/cancellations", {
        ...base,
        started_before: soon(),
        if: "event.data.user == 'a'",
        name: "user a",
      });
      expect(created).toMatchObject({
        status: 200,
        json: { function_id: "sleeper", app_id: "ops", cancelled: 2, name: "user a" },
      });
      expect((await runOf(runs[0]?.run_id ?? "")).status).toBe("Cancelled");
      expect((await runOf(runs[1]?.run_id ?? "")).status).toBe("Cancelled");
      expect((await runOf(runs[2]?.run_id ?? "")).status).toBe("Running");

      const id = String(created.json.id);
      const listed = (await rest("GET", "/v1/cancellations")).json.data as { id: string }[];
      expect(listed.map((record) => record.id)).toContain(id);
      expect((await rest("DELETE", `/v1/cancellations/${id}`)).status).toBe(200);
      expect((await rest("DELETE", `/v1/cancellations/${id}`)).status).toBe(404);
      const after = (await rest("GET", "/v1/cancellations")).json.data as { id: string }[];
      expect(after.map((record) => record.id)).not.toContain(id);

      const rest2 = await rest("POST", "/v1/cancellations", {
        function_id: "ops-sleeper",
        started_before: soon(),
      });
      expect(rest2.json.cancelled).toBe(1);
      expect((await runOf(runs[2]?.run_id ?? "")).status).toBe("Cancelled");
    });

    it("bulk replay runs failed runs again, each with its original event", async () => {
      healthy = false;
      const startedAfter = new Date(Date.now() - 1000).toISOString();
      const first = await send("ops/flaky", { n: 1 });
      const second = await send("ops/flaky", { n: 2 });
      for (const id of [first, second]) {
        const [run] = await finishedRuns(troupe.url, id);
        expect(run?.status).toBe("Failed");
      }
      const bad = await rest("POST", "/v1/replays", {
        function_id: "ops-flaky",
        started_after: startedAfter,
        started_before: new Date().toISOString(),
        statuses: ["Completed"],
      });
      expect(bad.status).toBe(400);
      expect(String(bad.json.error)).toContain("body.statuses[0]");

      healthy = true;
      const replayed = await rest("POST", "/v1/replays", {
        app_id: "ops",
        function_id: "flaky",
        started_after: startedAfter,
        started_before: new Date(Date.now() + 1).toISOString(),
      });
      expect(replayed.status).toBe(200);
      const { replays } = replayed.json.data as {
        replays: { run_id: string; replay_run_id: string }[];
      };
      expect(replays).toHaveLength(2);
      const outputs: unknown[] = [];
      for (const { replay_run_id } of replays) {
        await waitFor(async () => (await runOf(replay_run_id)).status !== "Running");
        const run = await runOf(replay_run_id);
        expect(run.status).toBe("Completed");
        outputs.push(run.output);
      }
      expect(outputs).toEqual([{ n: 1 }, { n: 2 }]);
    });

    it("a debounce with collect: true hands the run every event it absorbed", async () => {
      const first = await send("ops/typed", { user: "u", n: 1 });
      await send("ops/typed", { user: "u", n: 2 });
      const last = await send("ops/typed", { user: "u", n: 3 });
      const [run] = await finishedRuns(troupe.url, last, { timeoutMs: 8000 });
      expect(run).toMatchObject({ status: "Completed", output: [1, 2, 3] });
      expect((await runsOf(troupe.url, first)).map((listed) => listed.run_id)).toEqual([
        run?.run_id,
      ]);
    });

    if (features.waitAnyByName) {
      it("waits for the first of several events (names joined by |) and says which came", async () => {
        const placed = await send("ops/placed", { order: 7 });
        const other = await send("ops/placed", { order: 8 });
        await Promise.all([startedRun(placed), startedRun(other)]);
        await send("ops/cancelled", { order: 7 });
        await send("ops/paid", { order: 7 });
        await send("ops/paid", { order: 8 });
        const [first] = await finishedRuns(troupe.url, placed);
        expect(first).toMatchObject({
          status: "Completed",
          output: { name: "ops/cancelled", order: 7 },
        });
        const [second] = await finishedRuns(troupe.url, other);
        expect(second).toMatchObject({
          status: "Completed",
          output: { name: "ops/paid", order: 8 },
        });
      });
    }

    it("waits for the first of several events named in the if of a prefix-wildcard wait", async () => {
      const ordered = await send("ops/ordered", { order: 17 });
      const other = await send("ops/ordered", { order: 18 });
      await Promise.all([startedRun(ordered), startedRun(other)]);
      // Under the prefix but not named in the if: the waits go on.
      await send("ops/shipped", { order: 17 });
      await send("ops/shipped", { order: 18 });
      await send("ops/cancelled", { order: 17 });
      await send("ops/paid", { order: 17 });
      await send("ops/paid", { order: 18 });
      const [first] = await finishedRuns(troupe.url, ordered);
      expect(first).toMatchObject({
        status: "Completed",
        output: { name: "ops/cancelled", order: 17 },
      });
      const [second] = await finishedRuns(troupe.url, other);
      expect(second).toMatchObject({
        status: "Completed",
        output: { name: "ops/paid", order: 18 },
      });
    });

    it("fails a run whose wildcard wait names no events, saying where", async () => {
      const [run] = await finishedRuns(troupe.url, await send("ops/unnamed"));
      expect(run?.status).toBe("Failed");
      expect(run?.output).toMatchObject({
        error: {
          name: "INNGEST_BAD_RESPONSE",
          message: expect.stringMatching(/^ops\[0\]\.name: a wildcard wait \("ops\/\*"\) needs/),
        },
      });
    });

    it("cancelling a run cancels the runs it invoked, transitively, unless opted out", async () => {
      const parent = await startedRun(await send("ops/parent"));
      const middle = await childOf("ops-middle", parent.run_id);
      const grand = await childOf("ops-grand", middle);
      expect((await rest("DELETE", `/v1/runs/${parent.run_id}`)).status).toBe(200);
      expect((await runOf(parent.run_id)).status).toBe("Cancelled");
      expect((await runOf(middle)).status).toBe("Cancelled");
      expect((await runOf(grand)).status).toBe("Cancelled");

      const detached = await startedRun(await send("ops/detached"));
      const child = await childOf("ops-grand", detached.run_id);
      expect((await rest("DELETE", `/v1/runs/${detached.run_id}`)).status).toBe(200);
      expect((await runOf(detached.run_id)).status).toBe("Cancelled");
      expect((await runOf(child)).status).toBe("Running");
      // The option is Troupe's: the child's event does not carry it.
      expect((await troupe.flows.getRun(child))?.events[0]?.data).toEqual({ tag: "d" });
      expect((await rest("DELETE", `/v1/runs/${child}`)).status).toBe(200);
    });

    if (features.cronJitter) {
      it("syncs a cron trigger with jitter and fires it; pausing stops its runs", async () => {
        let eventId = "";
        await waitFor(
          async () => {
            const list = (await rest("GET", "/v1/events?name=inngest/scheduled.timer")).json
              .data as { internal_id: string }[];
            eventId = list[0]?.internal_id ?? "";
            return eventId !== "";
          },
          { timeoutMs: 5000, what: "a jittered cron tick" },
        );
        const [run] = await finishedRuns(troupe.url, eventId);
        expect(run).toMatchObject({
          status: "Completed",
          output: { trigger: "inngest/scheduled.timer" },
        });
        await rest("POST", "/v1/functions/ops-jittery/pause");
        const pausedAt = Date.now();
        let skippedTick = "";
        await waitFor(
          async () => {
            const list = (await rest("GET", "/v1/events?name=inngest/scheduled.timer")).json
              .data as { internal_id: string; received_at: string }[];
            skippedTick =
              list.find((event) => Date.parse(event.received_at) > pausedAt + 100)?.internal_id ??
              "";
            return skippedTick !== "";
          },
          { timeoutMs: 5000, what: "a tick while paused" },
        );
        expect((await troupe.flows.getEventRuns(skippedTick)).skipped).toEqual([
          expect.objectContaining({ functionId: "ops-jittery", reason: "paused" }),
        ]);
      });
    }
  });
}
