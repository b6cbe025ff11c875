import { ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { keyHash } from "../src/flow-control/parse-option.js";
import {
  createFlows,
  createFunction,
  type FlowFunction,
  type Flows,
  type FlowsOptions,
} from "../src/index.js";
import type { EnginePortsFactory } from "./engine-suite.js";
import { useSuitePorts } from "./suite-ports.js";

const SECOND = 1000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 5, 12);

/**
 * Run-creation flow control (rate limit, debounce, batching, idempotency, singleton) on a
 * ManualClock: every timing rule is checked at its exact millisecond through `runDue`.
 */
export function describeAdmissionControl(adapterName: string, factory: EnginePortsFactory): void {
  describe(`flows admission control on ${adapterName}`, () => {
    const suitePorts = useSuitePorts(factory, "a");

    async function setup(functions: readonly FlowFunction[], extra: Partial<FlowsOptions> = {}) {
      const clock = new ManualClock(START);
      const { ports, prefix } = await suitePorts.open(clock);
      const options = {
        store: ports.store,
        queue: ports.queue,
        clock,
        prefix,
        functions,
        ...extra,
      };
      const flows = createFlows(options);
      /** A second engine on the same ports, as another process would be. */
      const another = () => createFlows(options);
      /** Moves the clock to `START + ms` and processes everything due. */
      const at = async (ms: number) => {
        clock.set(START + ms);
        await flows.runDue();
      };
      return { flows, clock, ports, at, another };
    }

    async function runsOf(flows: Flows, functionId: string) {
      const summaries = await flows.listRuns({ functionId });
      return Promise.all(
        summaries.map(async (summary) => {
          const run = await flows.getRun(summary.id);
          if (!run) throw new Error("run vanished");
          return run;
        }),
      );
    }

    const dataOf = async (flows: Flows, functionId: string) =>
      (await runsOf(flows, functionId)).map((run) => run.events.map((event) => event.data.n));

    it("rate limit: skips events over the limit per key, visibly, and recovers at the GCRA rate", async () => {
      const fn = createFunction(
        {
          id: "limited",
          triggers: [{ event: "sync" }],
          rateLimit: { limit: 2, period: "1m", key: "event.data.user" },
        },
        async () => "ok",
      );
      const { flows, at } = await setup([fn]);
      const send = async (user: string, n: number) =>
        (await flows.send({ name: "sync", data: { user, n } })).ids[0] ?? "";
      await send("a", 1);
      await send("a", 2);
      const third = await send("a", 3);
      await send("b", 4);
      await at(0);
      expect((await dataOf(flows, "limited")).flat().sort()).toEqual([1, 2, 4]);
      expect(await flows.getEventRuns(third)).toEqual({
        runs: [],
        skipped: [{ functionId: "limited", reason: "rateLimit", at: START }],
      });
      // One emission interval (period / limit = 30 s) later, one more run fits, not two.
      await at(30 * SECOND - 1);
      await send("a", 5);
      await at(30 * SECOND);
      await send("a", 6);
      await send("a", 7);
      await at(30 * SECOND);
      expect((await dataOf(flows, "limited")).flat().sort()).toEqual([1, 2, 4, 6]);
      // A whole quiet period restores the full burst.
      await at(90 * SECOND);
      await send("a", 8);
      await send("a", 9);
      await send("a", 10);
      await at(90 * SECOND);
      expect(((await dataOf(flows, "limited")).flat() as number[]).sort((x, y) => x - y)).toEqual([
        1, 2, 4, 6, 8, 9,
      ]);
      const started = await flows.getEventRuns((await flows.listEvents({ limit: 1 }))[0]?.id ?? "");
      expect(started.runs.map((run) => run.functionId)).toEqual(["limited"]);
    });

    it("debounce: runs once with the latest event after a quiet period, pushed back by each event", async () => {
      const fn = createFunction(
        {
          id: "debounced",
          triggers: [{ event: "edit" }],
          debounce: { period: "10s", key: "event.data.doc" },
        },
        async ({ event, events }) => ({ n: event.data.n, count: events.length }),
      );
      const { flows, clock, at } = await setup([fn]);
      const send = async (doc: string, n: number) =>
        (await flows.send({ name: "edit", data: { doc, n } })).ids[0] ?? "";
      const first = await send("a", 1);
      await at(4 * SECOND);
      const second = await send("a", 2);
      await send("b", 10);
      await at(10 * SECOND); // a's first deadline passes: the item re-arms for 14 s; b is due at 14 s
      expect(await flows.listRuns({ functionId: "debounced" })).toHaveLength(0);
      await at(13 * SECOND);
      const third = await send("a", 3); // a is now due at 23 s
      await at(14 * SECOND - 1);
      expect(await flows.listRuns({ functionId: "debounced" })).toHaveLength(0);
      await at(14 * SECOND);
      expect(await dataOf(flows, "debounced")).toEqual([[10]]);
      await at(23 * SECOND - 1);
      expect(await flows.listRuns({ functionId: "debounced" })).toHaveLength(1);
      await at(23 * SECOND);
      const runs = await runsOf(flows, "debounced");
      expect(runs.map((run) => JSON.stringify(run.output)).sort()).toEqual([
        JSON.stringify({ n: 10, count: 1 }),
        JSON.stringify({ n: 3, count: 1 }),
      ]);
      expect(runs.every((run) => run.status === "completed")).toBe(true);
      expect((await flows.getEventRuns(first)).skipped).toEqual([
        { functionId: "debounced", reason: "debounce", at: START + 4 * SECOND, by: second },
      ]);
      // The run is found under the event that closed the debounce, and only there.
      const closing = runs.find((run) => run.events[0]?.id === third);
      expect((await flows.getEventRuns(third)).runs.map((run) => run.id)).toEqual([closing?.id]);
      expect((await flows.getEventRuns(second)).runs).toEqual([]);
      expect(clock.now()).toBe(START + 23 * SECOND);
    });

    it("debounce: timeout caps the delay at timeout after the first event", async () => {
      const fn = createFunction(
        {
          id: "capped",
          triggers: [{ event: "tick" }],
          debounce: { period: "10s", timeout: "25s" },
        },
        async ({ event }) => event.data.n,
      );
      const { flows, at } = await setup([fn]);
      for (let n = 0; n <= 4; n++) {
        await at(n * 5 * SECOND);
        await flows.send({ name: "tick", data: { n } });
      }
      await at(25 * SECOND - 1);
      expect(await flows.listRuns({ functionId: "capped" })).toHaveLength(0);
      await at(25 * SECOND);
      expect(await dataOf(flows, "capped")).toEqual([[4]]);
      // The next event opens a new debounce.
      await at(26 * SECOND);
      await flows.send({ name: "tick", data: { n: 5 } });
      await at(36 * SECOND);
      expect((await dataOf(flows, "capped")).flat().sort()).toEqual([4, 5]);
    });

    it("batching: runs at maxSize at once, and at timeout with the rest, events in order", async () => {
      const seen: number[][] = [];
      const fn = createFunction(
        {
          id: "batched",
          triggers: [{ event: "row" }],
          batchEvents: {
            maxSize: 3,
            timeout: "10s",
            key: "event.data.k",
            if: "event.data.n < 100",
          },
        },
        async ({ events, step }) => {
          const ns = events.map((event) => event.data.n as number);
          await step.run("write", () => ns.length);
          seen.push(ns);
          return ns;
        },
      );
      const { flows, at } = await setup([fn]);
      await flows.send([1, 2, 3, 4].map((n) => ({ name: "row", data: { k: "a", n } })));
      await flows.send({ name: "row", data: { k: "b", n: 5 } });
      await flows.send({ name: "row", data: { k: "a", n: 100 } }); // not batched: runs alone
      await at(0);
      expect((await dataOf(flows, "batched")).sort()).toEqual([[1, 2, 3], [100]]);
      await at(2 * SECOND);
      await flows.send({ name: "row", data: { k: "a", n: 6 } });
      const state = await flows.getFlowControlState("batched");
      expect(
        state.batches.map((batch) => [batch.key, batch.size, batch.runAt - START]).sort(),
      ).toEqual([
        ["a", 2, 10 * SECOND],
        ["b", 1, 10 * SECOND],
      ]);
      await at(10 * SECOND - 1);
      expect(await flows.listRuns({ functionId: "batched" })).toHaveLength(2);
      await at(10 * SECOND);
      const runs = await runsOf(flows, "batched");
      expect(runs.map((run) => run.output).sort()).toEqual([[1, 2, 3], [100], [4, 6], [5]]);
      expect(runs.every((run) => run.status === "completed")).toBe(true);
      expect((await flows.getFlowControlState("batched")).batches).toEqual([]);
      const sixth = runs.find((run) => run.events.length === 2)?.events[1]?.id ?? "";
      expect((await flows.getEventRuns(sixth)).runs).toHaveLength(1);
    });

    it("batching: concurrent senders put every event in exactly one batch", async () => {
      const fn = createFunction(
        { id: "members", triggers: [{ event: "m" }], batchEvents: { maxSize: 4, timeout: "5s" } },
        async ({ events }) => events.length,
      );
      const { flows, another, at } = await setup([fn]);
      const second = another();
      const sender = async (engine: Flows, base: number) => {
        for (let n = base; n < base + 7; n++) await engine.send({ name: "m", data: { n } });
      };
      await Promise.all([sender(flows, 0), sender(second, 100), sender(flows, 200)]);
      await at(5 * SECOND);
      const members = (await dataOf(flows, "members")).flat() as number[];
      expect(members.sort((x, y) => x - y)).toEqual(
        [0, 100, 200].flatMap((base) => Array.from({ length: 7 }, (_, n) => base + n)),
      );
      const sizes = (await runsOf(flows, "members")).map((run) => run.events.length);
      expect(sizes.filter((size) => size === 4)).toHaveLength(5);
    });

    it("idempotency: one run per key value per 24 h, repeats skipped visibly", async () => {
      const fn = createFunction(
        { id: "once", triggers: [{ event: "order" }], idempotency: "event.data.orderId" },
        async ({ event }) => event.data.n,
      );
      const { flows, at } = await setup([fn]);
      await flows.send({ name: "order", data: { orderId: "o1", n: 1 } });
      await flows.send({ name: "order", data: { orderId: "o2", n: 2 } });
      const repeat = (await flows.send({ name: "order", data: { orderId: "o1", n: 3 } })).ids[0];
      await at(24 * HOUR - 1);
      await flows.send({ name: "order", data: { orderId: "o1", n: 4 } });
      await at(24 * HOUR);
      await flows.send({ name: "order", data: { orderId: "o1", n: 5 } });
      await at(24 * HOUR);
      expect((await dataOf(flows, "once")).flat().sort()).toEqual([1, 2, 5]);
      expect((await flows.getEventRuns(repeat ?? "")).skipped).toEqual([
        { functionId: "once", reason: "idempotency", at: START },
      ]);
    });

    it("singleton skip: drops new runs while one is unfinished, per key", async () => {
      const fn = createFunction(
        {
          id: "solo",
          triggers: [{ event: "job" }],
          singleton: { key: "event.data.k", mode: "skip" },
        },
        async ({ event, step }) => {
          await step.sleep("work", "1m");
          return event.data.n;
        },
      );
      const { flows, at } = await setup([fn]);
      await flows.send({ name: "job", data: { k: "a", n: 1 } });
      await at(0);
      const dropped = (await flows.send({ name: "job", data: { k: "a", n: 2 } })).ids[0] ?? "";
      await flows.send({ name: "job", data: { k: "b", n: 3 } });
      await at(60 * SECOND);
      await flows.send({ name: "job", data: { k: "a", n: 4 } });
      await at(60 * SECOND);
      await at(120 * SECOND);
      const runs = await runsOf(flows, "solo");
      expect(runs.map((run) => [run.output, run.status]).sort()).toEqual([
        [1, "completed"],
        [3, "completed"],
        [4, "completed"],
      ]);
      expect((await flows.getEventRuns(dropped)).skipped).toEqual([
        { functionId: "solo", reason: "singleton", at: START },
      ]);
    });

    it("singleton cancel: cancels the unfinished run and starts the new one", async () => {
      const fn = createFunction(
        { id: "latest", triggers: [{ event: "job" }], singleton: { mode: "cancel" } },
        async ({ event, step }) => {
          await step.sleep("work", "1m");
          return event.data.n;
        },
      );
      const { flows, at } = await setup([fn]);
      await flows.send({ name: "job", data: { n: 1 } });
      await at(10 * SECOND);
      await flows.send({ name: "job", data: { n: 2 } });
      await at(10 * SECOND);
      await at(70 * SECOND);
      const runs = await runsOf(flows, "latest");
      expect(
        runs.map((run) => [run.events[0]?.data.n, run.status, run.error?.name]).sort(),
      ).toEqual([
        [1, "cancelled", "FLOWS_SINGLETON_CANCELLED"],
        [2, "completed", undefined],
      ]);
      // The finished run released the key: the next event runs without cancelling anything.
      await flows.send({ name: "job", data: { n: 3 } });
      await at(70 * SECOND);
      await at(130 * SECOND);
      expect(
        (await runsOf(flows, "latest")).filter((run) => run.status === "completed"),
      ).toHaveLength(2);
    });

    it("debounce and batch items delivered twice start one run", async () => {
      const debounced = createFunction(
        { id: "d", triggers: [{ event: "x" }], debounce: { period: "5s" } },
        async () => "d",
      );
      const batched = createFunction(
        { id: "b", triggers: [{ event: "x" }], batchEvents: { maxSize: 10, timeout: "5s" } },
        async ({ events }) => events.length,
      );
      const { flows, ports, at } = await setup([debounced, batched]);
      const { ids } = await flows.send([
        { name: "x", data: { n: 1 } },
        { name: "x", data: { n: 2 } },
      ]);
      const g = ids[0] ?? "";
      for (const kind of ["D", "B"]) {
        const id = `${kind}:${kind.toLowerCase()}:${keyHash("")}:${g}`;
        const original = await ports.queue.get(id);
        expect(original?.availableAt).toBe(START + 5 * SECOND);
        // A copy under another id stands for a redelivery (a lapsed lease) racing the original.
        await ports.queue.enqueue({
          id: `${id}:again`,
          payload: original?.payload ?? new Uint8Array(),
          availableAt: original?.availableAt ?? 0,
        });
      }
      await at(5 * SECOND);
      expect(await dataOf(flows, "d")).toEqual([[2]]);
      expect(await dataOf(flows, "b")).toEqual([[1, 2]]);
      expect((await runsOf(flows, "b"))[0]?.output).toBe(2);
      expect(await ports.queue.get(`D:d:${keyHash("")}:${g}`)).toBeUndefined();
    });

    it("recovers a debounce whose queue item was lost in a crash after the commit", async () => {
      const fn = createFunction(
        { id: "survivor", triggers: [{ event: "s" }], debounce: { period: "5s" } },
        async ({ event }) => event.data.n,
      );
      const clock = new ManualClock(START);
      const { ports, prefix } = await suitePorts.open(clock);
      let crash = true;
      // The process "dies" right after the commit: enqueueing the debounce item fails once.
      const queue = new Proxy(ports.queue, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (property !== "enqueueMany" || typeof value !== "function") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return async (items: readonly { id?: string }[]) => {
            if (crash && items.some((item) => item.id?.startsWith("D:"))) {
              crash = false;
              throw new Error("crash");
            }
            return value.call(target, items);
          };
        },
      });
      const flows = createFlows({ store: ports.store, queue, clock, prefix, functions: [fn] });
      await expect(flows.send({ name: "s", data: { n: 1 } })).rejects.toThrow("crash");
      clock.set(START + 10 * SECOND);
      expect(await flows.runDue()).toBe(0);
      expect(await flows.sweep()).toBe(1);
      await flows.runDue();
      const [run] = await runsOf(flows, "survivor");
      expect(run?.output).toBe(1);
    });

    it("sweep deletes expired rate-limit and idempotency keys and keeps live ones", async () => {
      const fn = createFunction(
        {
          id: "tidy",
          triggers: [{ event: "t" }],
          rateLimit: { limit: 1, period: "1h", key: "event.data.k" },
          idempotency: "event.data.k",
        },
        async () => null,
      );
      const { flows, ports, at } = await setup([fn]);
      const stateKeys = async () =>
        (await ports.store.list({ prefix: `${suitePorts.lastPrefix()}fc/` })).length;
      await flows.send({ name: "t", data: { k: "old" } });
      await at(2 * HOUR);
      await flows.send({ name: "t", data: { k: "new" } });
      expect(await stateKeys()).toBe(4);
      await at(2 * HOUR + 1);
      await flows.sweep();
      expect(await stateKeys()).toBe(3); // "old"'s rate-limit key ran out after 1 h
      await at(24 * HOUR);
      await flows.sweep();
      expect(await stateKeys()).toBe(1); // "old"'s idempotency key too, and "new"'s rate-limit key
      await flows.send({ name: "t", data: { k: "old" } });
      await at(24 * HOUR);
      expect(await flows.listRuns({ functionId: "tidy" })).toHaveLength(3);
    });

    it("shows pending debounces and batches per key", async () => {
      const fn = createFunction(
        {
          id: "pending",
          triggers: [{ event: "p" }],
          debounce: { period: "1m", key: "event.data.k", timeout: "90s" },
        },
        async () => null,
      );
      const { flows, at } = await setup([fn]);
      const { ids } = await flows.send([
        { name: "p", data: { k: "x" } },
        { name: "p", data: { k: "x" } },
      ]);
      const state = await flows.getFlowControlState("pending");
      expect(state.debounces).toEqual([
        { key: "x", eventId: ids[1], firstAt: START, runAt: START + 60 * SECOND, events: 2 },
      ]);
      await at(60 * SECOND);
      expect((await flows.getFlowControlState("pending")).debounces).toEqual([]);
    });

    it("rejects bad flow-control options, naming the option", () => {
      const make = (config: Record<string, unknown>) => () =>
        createFunction({ id: "bad", triggers: [{ event: "e" }], ...config }, async () => null);
      expect(make({ rateLimit: { limit: 0, period: "1m" } })).toThrow(/rateLimit\.limit/);
      expect(make({ rateLimit: { limit: 1, period: "2d" } })).toThrow(/rateLimit\.period/);
      expect(make({ debounce: { period: "500ms" } })).toThrow(/debounce\.period/);
      expect(make({ debounce: { period: "8d" } })).toThrow(/debounce\.period/);
      expect(make({ debounce: { period: "1s", timeout: "8d" } })).toThrow(/debounce\.timeout/);
      expect(make({ debounce: { period: "1s", key: "event.(" } })).toThrow(/debounce\.key/);
      expect(make({ batchEvents: { maxSize: 1, timeout: "1s" } })).toThrow(/batchEvents\.maxSize/);
      expect(make({ batchEvents: { maxSize: 1001, timeout: "1s" } })).toThrow(
        /batchEvents\.maxSize/,
      );
      expect(make({ batchEvents: { maxSize: 2, timeout: "10m" } })).toThrow(/batchEvents\.timeout/);
      expect(make({ batchEvents: { maxSize: 2, timeout: "1s", if: "((" } })).toThrow(
        /batchEvents\.if/,
      );
      expect(make({ idempotency: "" })).toThrow(/idempotency/);
      expect(make({ singleton: { mode: "queue" } })).toThrow(/singleton\.mode/);
      expect(
        make({ debounce: { period: "1s" }, batchEvents: { maxSize: 2, timeout: "1s" } }),
      ).toThrow(/debounce/);
    });
  });
}
