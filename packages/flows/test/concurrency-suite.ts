import { createJsonCodec, ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { runSlots } from "../src/flow-control/concurrency.js";
import {
  createFlows,
  createFunction,
  type FlowFunction,
  type Flows,
  type FlowsOptions,
} from "../src/index.js";
import type { EnginePortsFactory } from "./engine-suite.js";
import { useSuitePorts } from "./suite-ports.js";

const START = Date.UTC(2026, 0, 5, 12);

/** Counts steps executing at once (overall and per key), across every worker of a test. */
function createMeter() {
  const active = new Map<string, number>();
  const max = new Map<string, number>();
  const order: string[] = [];
  return {
    order,
    max,
    /**
     * A step body: counts itself active under `keys` until `fill` steps are active under the
     * first key (so the limit is reached whatever the adapter's latency), or 200 ms at most.
     */
    async step(label: string, keys: readonly string[], fill = 1) {
      order.push(label);
      for (const key of keys) {
        const now = (active.get(key) ?? 0) + 1;
        active.set(key, now);
        max.set(key, Math.max(max.get(key) ?? 0, now));
      }
      const first = keys[0] ?? "";
      for (let waited = 0; (active.get(first) ?? 0) < fill && waited < 200; waited++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      for (const key of keys) active.set(key, (active.get(key) ?? 1) - 1);
      return label;
    },
  };
}

/**
 * Fake-clock tests of concurrency, throttle and priority (the worker side of flow control),
 * through `runDue` on one adapter.
 */
export function describeConcurrencyControl(adapterName: string, factory: EnginePortsFactory) {
  describe(`flows concurrency, throttle and priority on ${adapterName}`, () => {
    const suitePorts = useSuitePorts(factory, "c");

    async function setup(functions: readonly FlowFunction[], extra: Partial<FlowsOptions> = {}) {
      const clock = new ManualClock(START);
      const { ports, prefix } = await suitePorts.open(clock);
      const flows = createFlows({
        store: ports.store,
        queue: ports.queue,
        clock,
        prefix,
        functions,
        random: () => 0,
        ...extra,
      });
      return { flows, clock, ports, prefix };
    }

    async function statuses(flows: Flows, functionId: string) {
      const runs = await flows.listRuns({ functionId, limit: 1000 });
      return runs.map((run) => run.status);
    }

    it("never executes more steps at once than the limit, and runs every run", async () => {
      const meter = createMeter();
      const fn = createFunction(
        { id: "limited", triggers: [{ event: "job/go" }], concurrency: 2 },
        async ({ event, step }) => {
          await step.run("one", () => meter.step(`one-${event.data.n}`, ["all"], 2));
          return step.run("two", () => meter.step(`two-${event.data.n}`, ["all"], 2));
        },
      );
      const { flows } = await setup([fn]);
      await flows.send(Array.from({ length: 8 }, (_, n) => ({ name: "job/go", data: { n } })));
      await flows.runDue();
      expect(await statuses(flows, "limited")).toEqual(Array(8).fill("completed"));
      expect(meter.max.get("all")).toBe(2);
      // Nothing is left behind: no slot held, nothing parked.
      expect((await flows.getFlowControlState("limited")).concurrency).toEqual([]);
    });

    it("limits per key value: one key's runs do not use another key's slots", async () => {
      const meter = createMeter();
      const fn = createFunction(
        {
          id: "per-user",
          triggers: [{ event: "job/go" }],
          concurrency: { limit: 1, key: "event.data.user" },
        },
        async ({ event, step }) =>
          step.run("work", () =>
            meter.step(String(event.data.user), ["all", String(event.data.user)], 2),
          ),
      );
      const { flows } = await setup([fn]);
      await flows.send(
        ["a", "a", "a", "b", "b", "b"].map((user) => ({ name: "job/go", data: { user } })),
      );
      await flows.runDue();
      expect(await statuses(flows, "per-user")).toEqual(Array(6).fill("completed"));
      expect(meter.max.get("a")).toBe(1);
      expect(meter.max.get("b")).toBe(1);
      expect(meter.max.get("all")).toBe(2);
    });

    it("shares an env-scoped key between two functions", async () => {
      const meter = createMeter();
      const make = (id: string) =>
        createFunction(
          {
            id,
            triggers: [{ event: "account/sync" }],
            concurrency: { limit: 1, key: "event.data.account", scope: "env" },
          },
          async ({ event, step }) =>
            step.run("sync", () => meter.step(id, [String(event.data.account)])),
        );
      const { flows } = await setup([make("sync-a"), make("sync-b")]);
      await flows.send([1, 1, 2].map((account) => ({ name: "account/sync", data: { account } })));
      await flows.runDue();
      expect(await statuses(flows, "sync-a")).toEqual(Array(3).fill("completed"));
      expect(await statuses(flows, "sync-b")).toEqual(Array(3).fill("completed"));
      // Four steps on account 1 across both functions, never two at once.
      expect(meter.max.get("1")).toBe(1);
      expect(meter.max.get("2")).toBe(1);
    });

    it("with two limits, a step runs only while it holds a slot of each", async () => {
      const meter = createMeter();
      const fn = createFunction(
        {
          id: "two-limits",
          triggers: [{ event: "job/go" }],
          concurrency: [{ limit: 3 }, { limit: 1, key: "event.data.account", scope: "account" }],
        },
        async ({ event, step }) =>
          step.run("work", () =>
            meter.step(String(event.data.account), ["all", `acct-${event.data.account}`], 3),
          ),
      );
      const { flows } = await setup([fn]);
      await flows.send(
        [1, 1, 1, 2, 2, 3, 4, 5].map((account) => ({ name: "job/go", data: { account } })),
      );
      await flows.runDue();
      expect(await statuses(flows, "two-limits")).toEqual(Array(8).fill("completed"));
      expect(meter.max.get("all")).toBe(3);
      for (const account of [1, 2, 3, 4, 5]) expect(meter.max.get(`acct-${account}`)).toBe(1);
      expect((await flows.getFlowControlState("two-limits")).concurrency).toEqual([]);
    });

    it("a sleeping run holds no slot", async () => {
      const fn = createFunction(
        { id: "sleepy", triggers: [{ event: "job/go" }], concurrency: 1 },
        async ({ step }) => {
          await step.run("before", () => "before");
          await step.sleep("nap", "1h");
          return step.run("after", () => "after");
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send([{ name: "job/go" }, { name: "job/go" }, { name: "job/go" }]);
      await flows.runDue();
      // All three ran their first step and sleep: the one slot was free while each slept.
      const runs = await flows.listRuns({ functionId: "sleepy" });
      for (const summary of runs) {
        const run = await flows.getRun(summary.id);
        expect(run?.steps.map((step) => [step.id, step.status])).toEqual([
          ["before", "completed"],
          ["nap", "sleeping"],
        ]);
      }
      await clock.advance(3_600_000);
      await flows.runDue();
      expect(await statuses(flows, "sleepy")).toEqual(Array(3).fill("completed"));
    });

    it("a slot held by a worker that died comes back when its lease expires", async () => {
      const fn = createFunction(
        { id: "orphan", triggers: [{ event: "job/go" }], concurrency: 1 },
        async ({ step }) => step.run("work", () => "done"),
      );
      const { flows, clock, ports, prefix } = await setup([fn], { leaseMs: 30_000 });
      // A worker claimed the key's only slot (its lease runs 30 s) and was killed.
      const [slot] =
        runSlots(prefix, "orphan", [{ limit: 1, scope: "fn" }], {
          id: "x",
          name: "job/go",
          data: {},
          ts: START,
        }) ?? [];
      if (!slot) throw new Error("no slot");
      const codec = createJsonCodec<unknown>();
      await ports.store.commit([
        {
          type: "set",
          key: slot.key,
          value: codec.encode({ v: "", l: 1, h: { dead: START + 30_000 }, r: {}, n: 0 }),
        },
      ]);
      await flows.send({ name: "job/go" });
      await flows.runDue();
      expect(await statuses(flows, "orphan")).toEqual(["queued"]);
      expect((await flows.getFlowControlState("orphan")).concurrency).toEqual([
        { index: 0, scope: "fn", key: "", active: 1, limit: 1, queued: 1 },
      ]);
      await clock.advance(29_000);
      await flows.sweep();
      await flows.runDue();
      expect(await statuses(flows, "orphan")).toEqual(["queued"]);
      await clock.advance(2_000);
      await flows.sweep();
      await flows.runDue();
      expect(await statuses(flows, "orphan")).toEqual(["completed"]);
      expect((await flows.getFlowControlState("orphan")).concurrency).toEqual([]);
    });

    it("throttle: limit + burst start at once, then one per period/limit, none dropped", async () => {
      const starts: number[] = [];
      const fn = createFunction(
        {
          id: "throttled",
          triggers: [{ event: "job/go" }],
          throttle: { limit: 2, period: "6s", burst: 1 },
        },
        async ({ step }) => step.run("work", () => "ok"),
      );
      const { flows, clock } = await setup([fn]);
      await flows.send(Array.from({ length: 6 }, () => ({ name: "job/go" })));
      await flows.runDue();
      const state = await flows.getFlowControlState("throttled");
      expect(state.throttle).toEqual({ queued: 3, keys: [{ key: "", queued: 3 }] });
      for (let second = 1; second <= 9; second++) {
        await clock.advance(1000);
        await flows.runDue();
      }
      for (const summary of await flows.listRuns({ functionId: "throttled" })) {
        const run = await flows.getRun(summary.id);
        expect(run?.status).toBe("completed");
        starts.push((run?.startedAt ?? 0) - START);
      }
      expect(starts.sort((a, b) => a - b)).toEqual([0, 0, 0, 3000, 6000, 9000]);
      expect((await flows.getFlowControlState("throttled")).throttle?.queued).toBe(0);
    });

    it("throttle: per key, `limit` per period without burst", async () => {
      const fn = createFunction(
        {
          id: "per-key-throttle",
          triggers: [{ event: "job/go" }],
          throttle: { limit: 3, period: "1m", key: "event.data.user" },
        },
        async ({ step }) => step.run("work", () => "ok"),
      );
      const { flows, clock } = await setup([fn]);
      await flows.send([
        ...Array.from({ length: 5 }, () => ({ name: "job/go", data: { user: "a" } })),
        { name: "job/go", data: { user: "b" } },
      ]);
      await flows.runDue();
      expect((await flows.getFlowControlState("per-key-throttle")).throttle).toEqual({
        queued: 2,
        keys: [{ key: "a", queued: 2 }],
      });
      const started = async () =>
        (await flows.listRuns({ functionId: "per-key-throttle" })).filter(
          (run) => run.status === "completed",
        ).length;
      expect(await started()).toBe(4);
      await clock.advance(19_999);
      await flows.runDue();
      expect(await started()).toBe(4);
      await clock.advance(1);
      await flows.runDue();
      expect(await started()).toBe(5);
      await clock.advance(20_000);
      await flows.runDue();
      expect(await started()).toBe(6);
    });

    it("priority: a higher factor jumps runs queued up to that many seconds earlier", async () => {
      const order: string[] = [];
      const fn = createFunction(
        {
          id: "prioritised",
          triggers: [{ event: "job/go" }],
          // A missing field fails the expression, which counts as factor 0.
          priority: { run: "event.data.factor" },
        },
        async ({ event, step }) => step.run("work", () => order.push(String(event.data.name))),
      );
      const { flows, clock } = await setup([fn], { workerConcurrency: 1 });
      await flows.send({ name: "job/go", data: { name: "low", factor: -30 } });
      await clock.advance(10_000);
      await flows.send({ name: "job/go", data: { name: "first" } });
      await clock.advance(10_000);
      await flows.send({ name: "job/go", data: { name: "second" } });
      await clock.advance(10_000);
      await flows.send({ name: "job/go", data: { name: "vip", factor: 120 } });
      await flows.runDue();
      // "low" was sent first but is delayed 30 s (due at +30 s, after "second" at +20 s).
      expect(order).toEqual(["vip", "first", "second", "low"]);
    });

    it("priority orders runs waiting for a concurrency slot", async () => {
      const order: string[] = [];
      const fn = createFunction(
        {
          id: "prioritised-limited",
          triggers: [{ event: "job/go" }],
          concurrency: 1,
          priority: { run: "event.data.vip ? 600 : 0" },
        },
        async ({ event, step }) => step.run("work", () => order.push(String(event.data.name))),
      );
      const { flows, clock } = await setup([fn]);
      for (const name of ["a", "b", "c"]) {
        await flows.send({ name: "job/go", data: { name } });
        await clock.advance(1000);
      }
      await flows.send({ name: "job/go", data: { name: "vip", vip: true } });
      await flows.runDue();
      expect(order).toEqual(["a", "vip", "b", "c"]);
    });

    it("shows executing and queued steps per key", async () => {
      const fn = createFunction(
        {
          id: "visible",
          triggers: [{ event: "job/go" }],
          concurrency: { limit: 1, key: "event.data.user" },
        },
        async ({ step }) => {
          await step.run("work", () => "ok");
        },
      );
      const { flows } = await setup([fn]);
      await flows.send(["a", "a", "a", "b"].map((user) => ({ name: "job/go", data: { user } })));
      const state = await flows.getFlowControlState("visible");
      const byKey = Object.fromEntries(state.concurrency.map((key) => [key.key, key]));
      // Nothing executes yet: one run per key was admitted, a's other two wait in the Store.
      expect(byKey.a).toMatchObject({ active: 0, limit: 1, queued: 3 });
      expect(byKey.b).toMatchObject({ active: 0, limit: 1, queued: 1 });
      await flows.runDue();
      expect((await flows.getFlowControlState("visible")).concurrency).toEqual([]);
    });
  });
}
