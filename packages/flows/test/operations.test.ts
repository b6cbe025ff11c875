import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows, createFunction, type FlowFunction } from "../src/index.js";

/** Operations through the engine's own API, on a ManualClock: no sleeping, counts and order. */
function setup(functions: readonly FlowFunction[], random = () => 0) {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
  const flows = createFlows({
    store: createMemoryStore(),
    queue: createMemoryQueue({ clock }),
    clock,
    functions,
    random,
    keepProcessAlive: false,
  });
  return { flows, clock };
}

describe("operations on the flows engine", () => {
  it("delays each cron tick by its jitter; the tick keeps its scheduled time", async () => {
    const fires: { scheduledAt: unknown; at: number }[] = [];
    let clockRef: ManualClock | undefined;
    const fn = createFunction(
      { id: "jittered", triggers: [{ cron: "0 * * * *", jitter: "10m" }] },
      async ({ event }) => {
        fires.push({ scheduledAt: event.data.scheduledAt, at: clockRef?.now() ?? 0 });
      },
    );
    const { flows, clock } = setup([fn], () => 0.5);
    clockRef = clock;
    await flows.runDue();
    await clock.advanceTo(Date.UTC(2026, 0, 5, 13, 4, 59));
    await flows.runDue();
    expect(fires).toEqual([]);
    await clock.advanceTo(Date.UTC(2026, 0, 5, 13, 5));
    await flows.runDue();
    await clock.advanceTo(Date.UTC(2026, 0, 5, 14, 5));
    await flows.runDue();
    expect(fires).toEqual([
      { scheduledAt: "2026-01-05T13:00:00.000Z", at: Date.UTC(2026, 0, 5, 13, 5) },
      { scheduledAt: "2026-01-05T14:00:00.000Z", at: Date.UTC(2026, 0, 5, 14, 5) },
    ]);
  });

  it("refuses a jitter out of range, naming the field", () => {
    expect(() =>
      createFunction({ id: "bad", triggers: [{ cron: "* * * * *", jitter: "8d" }] }, () => null),
    ).toThrow(/triggers\[0\]\.jitter/);
  });

  it("pause skips events and cron ticks; resume starts runs only for later events", async () => {
    const seen: unknown[] = [];
    const fn = createFunction(
      { id: "p", triggers: [{ event: "p/go" }, { cron: "0 * * * *" }] },
      async ({ event }) => {
        seen.push(event.data.n ?? "tick");
      },
    );
    const { flows, clock } = setup([fn]);
    expect(await flows.pauseFunction("p", { reason: "maintenance" })).toBe(true);
    expect(await flows.pauseFunction("p")).toBe(false);
    await expect(flows.pauseFunction("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
    const {
      ids: [paused],
    } = await flows.send({ name: "p/go", data: { n: 1 } });
    await clock.advanceTo(Date.UTC(2026, 0, 5, 13, 0));
    await flows.runDue();
    expect(seen).toEqual([]);
    expect((await flows.getEventRuns(paused ?? "")).skipped).toEqual([
      expect.objectContaining({ functionId: "p", reason: "paused" }),
    ]);
    expect(await flows.listPausedFunctions()).toEqual([
      expect.objectContaining({ functionId: "p", reason: "maintenance" }),
    ]);
    expect(await flows.resumeFunction("p")).toBe(true);
    await flows.send({ name: "p/go", data: { n: 2 } });
    await clock.advanceTo(Date.UTC(2026, 0, 5, 14, 0));
    await flows.runDue();
    expect(seen).toEqual([2, "tick"]);
  });

  it("bulk cancel takes unfinished runs in the range matching `if`, across pages", async () => {
    const fn = createFunction({ id: "s", triggers: [{ event: "s/go" }] }, async ({ step }) => {
      await step.sleep("long", "1d");
    });
    const { flows, clock } = setup([fn]);
    const from = clock.now();
    const events = Array.from({ length: 230 }, (_, n) => ({
      name: "s/go",
      data: { user: n % 2 === 0 ? "even" : "odd" },
    }));
    await flows.send(events);
    await flows.runDue();
    await clock.advance(1000);
    await flows.send({ name: "s/go", data: { user: "even" } });
    await flows.runDue();
    await expect(flows.cancelRuns({ functionId: "s", if: "event.data.user ==" })).rejects.toThrow(
      /cancelRuns\.if/,
    );
    await expect(flows.cancelRuns({ functionId: "s", from: 10, to: 5 })).rejects.toThrow(
      /cancelRuns\.to/,
    );
    expect(await flows.listRuns({ functionId: "s", status: "cancelled" })).toHaveLength(0);
    const result = await flows.cancelRuns({
      functionId: "s",
      from,
      to: from + 1000,
      if: "event.data.user == 'even'",
    });
    expect(result).toEqual({ cancelled: 115 });
    expect(await flows.listRuns({ functionId: "s", status: "running", limit: 500 })).toHaveLength(
      116,
    );
  });

  it("bulk replay starts a new run per failed or cancelled run, with its events", async () => {
    let healthy = false;
    const fn = createFunction(
      { id: "f", triggers: [{ event: "f/go" }], retries: 0 },
      async ({ event }) => {
        if (!healthy) throw new Error("down");
        return event.data.n;
      },
    );
    const { flows, clock } = setup([fn]);
    const from = clock.now();
    await flows.send([1, 2, 3].map((n) => ({ name: "f/go", data: { n } })));
    await flows.runDue();
    const [, second] = await flows.listRuns({ functionId: "f" });
    healthy = true;
    await flows.rerun(second?.id ?? "");
    await flows.runDue();
    await clock.advance(1);
    await expect(
      flows.replayRuns({ functionId: "f", statuses: ["completed" as "failed"] }),
    ).rejects.toThrow(/replayRuns\.statuses/);
    const { replays } = await flows.replayRuns({ functionId: "f", from });
    expect(replays).toHaveLength(3);
    await flows.runDue();
    const outputs = [];
    for (const { runId, replayRunId } of replays) {
      const run = await flows.getRun(replayRunId);
      expect(run?.rerunOf).toBe(runId);
      outputs.push(run?.output);
    }
    expect(outputs).toEqual([1, 2, 3]);
  });

  it("cancelling a run cancels the runs it invoked, transitively, unless opted out", async () => {
    const leaf = createFunction({ id: "leaf", triggers: [] }, async ({ step }) => {
      await step.sleep("long", "1d");
    });
    const mid = createFunction({ id: "mid", triggers: [] }, async ({ step }) =>
      step.invoke("leaf", { function: leaf }),
    );
    const root = createFunction({ id: "root", triggers: [{ event: "r/go" }] }, async ({ step }) =>
      Promise.all([
        step.invoke("mid", { function: mid }),
        step.invoke("kept", { function: leaf, cascadeCancel: false }),
      ]),
    );
    const { flows } = setup([leaf, mid, root]);
    await flows.send({ name: "r/go" });
    await flows.runDue();
    const [rootRun] = await flows.listRuns({ functionId: "root" });
    expect(await flows.listRuns({ functionId: "leaf", status: "running" })).toHaveLength(2);
    expect(await flows.cancel(rootRun?.id ?? "")).toBe(true);
    expect(await flows.listRuns({ functionId: "mid", status: "cancelled" })).toHaveLength(1);
    const leaves = await flows.listRuns({ functionId: "leaf" });
    const statuses = await Promise.all(
      leaves.map(async (summary) => {
        const view = await flows.getRun(summary.id);
        return `${view?.parentRunId === rootRun?.id ? "kept" : "grandchild"}:${view?.status}`;
      }),
    );
    expect(statuses.sort()).toEqual(["grandchild:cancelled", "kept:running"]);
  });

  it("a collecting debounce hands the run every event it absorbed; a full one closes at once", async () => {
    const got: unknown[][] = [];
    const fn = createFunction(
      {
        id: "d",
        triggers: [{ event: "d/typed" }],
        debounce: { period: "10s", key: "event.data.user", collect: true },
      },
      async ({ events }) => {
        got.push(events.map((event) => event.data.n));
      },
    );
    const { flows, clock } = setup([fn]);
    const ids = [];
    for (const n of [1, 2, 3]) {
      ids.push(...(await flows.send({ name: "d/typed", data: { user: "u", n } })).ids);
      await clock.advance(5000);
      await flows.runDue();
    }
    expect(got).toEqual([]);
    await clock.advance(5000);
    await flows.runDue();
    expect(got).toEqual([[1, 2, 3]]);
    // Every absorbed event lists the run, none is skipped.
    for (const id of ids) {
      const { runs, skipped } = await flows.getEventRuns(id);
      expect(runs).toHaveLength(1);
      expect(skipped).toEqual([]);
    }

    got.length = 0;
    const many = Array.from({ length: 101 }, (_, n) => ({
      name: "d/typed",
      data: { user: "v", n },
    }));
    await flows.send(many);
    await flows.runDue();
    expect(got.map((list) => list.length)).toEqual([100]);
    await clock.advance(10_000);
    await flows.runDue();
    expect(got.map((list) => list.length)).toEqual([100, 1]);
    expect(got[1]).toEqual([100]);
  });

  it("refuses a collect that is not a boolean, naming the field", () => {
    expect(() =>
      createFunction(
        {
          id: "bad",
          triggers: [{ event: "x" }],
          debounce: { period: "1s", collect: "yes" as never },
        },
        () => null,
      ),
    ).toThrow(/debounce\.collect/);
  });

  it("waits for the first of several events and says which one came", async () => {
    const fn = createFunction({ id: "w", triggers: [{ event: "o/placed" }] }, async ({ step }) => {
      const got = await step.waitForEvent("outcome", {
        event: "o/paid",
        match: "data.order",
        timeout: "1h",
        anyOf: [{ event: "o/cancelled", match: "data.order" }],
      });
      return got ? { name: got.name, order: got.data.order } : null;
    });
    const { flows } = setup([fn]);
    await flows.send([
      { name: "o/placed", data: { order: 1 } },
      { name: "o/placed", data: { order: 2 } },
    ]);
    await flows.runDue();
    await flows.send({ name: "o/cancelled", data: { order: 1 } });
    await flows.send({ name: "o/paid", data: { order: 1 } });
    await flows.send({ name: "o/paid", data: { order: 2 } });
    await flows.runDue();
    const outputs = [];
    for (const summary of await flows.listRuns({ functionId: "w" }))
      outputs.push((await flows.getRun(summary.id))?.output);
    expect(outputs).toEqual([
      { name: "o/cancelled", order: 1 },
      { name: "o/paid", order: 2 },
    ]);
  });

  it("refuses a bad alternative, naming the field", async () => {
    const fn = createFunction(
      { id: "bad-wait", triggers: [{ event: "b/go" }], retries: 0 },
      async ({ step }) =>
        step.waitForEvent("w", { event: "a", timeout: "1h", anyOf: [{ event: "" }] }),
    );
    const { flows } = setup([fn]);
    await flows.send({ name: "b/go" });
    await flows.runDue();
    const [run] = await flows.listRuns({ functionId: "bad-wait" });
    const view = await flows.getRun(run?.id ?? "");
    expect(view?.status).toBe("failed");
    expect(view?.error?.message).toMatch(/anyOf\[0\]\.event/);
  });
});
