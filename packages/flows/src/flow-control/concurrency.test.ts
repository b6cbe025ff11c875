import { createMemoryStore, type EnqueueItem } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createConcurrencyControl,
  parseConcurrency,
  runSlots,
  type SlotRef,
} from "./concurrency.js";

const PREFIX = "p/";
const event = (data: Record<string, unknown>) => ({ id: "e", name: "x", data, ts: 0 });

function setup(leaseMs = 1000) {
  const store = createMemoryStore();
  const clock = { now: 0 };
  const enqueued: EnqueueItem[] = [];
  const control = createConcurrencyControl({
    store,
    commit: (ops) => store.commit(ops),
    enqueue: async (items) => {
      enqueued.push(...items);
    },
    now: () => clock.now,
    leaseMs,
    prefix: PREFIX,
  });
  const [slot] = runSlots(PREFIX, "f", [{ limit: 1, scope: "fn" }], event({})) ?? [];
  if (!slot) throw new Error("no slot");
  return { store, clock, enqueued, control, slot: { ...slot, limit: 1 } as SlotRef };
}

const item = (id: string, availableAt: number) => ({
  id,
  payload: new TextEncoder().encode(id),
  availableAt,
});

describe("concurrency slots", () => {
  it("parks items of a full key in due order and hands a released slot to the oldest", async () => {
    const { control, slot, enqueued, store } = setup();
    expect(await control.acquire([slot], { leaseId: "l1", itemId: "a" }, item("a", 10))).toBe(true);
    expect(await control.acquire([slot], { leaseId: "l2", itemId: "c" }, item("c", 30))).toBe(
      false,
    );
    expect(await control.acquire([slot], { leaseId: "l3", itemId: "b" }, item("b", 20))).toBe(
      false,
    );
    // Parking the same item again (a duplicate claim) adds nothing.
    expect(await control.acquire([slot], { leaseId: "l4", itemId: "b" }, item("b", 20))).toBe(
      false,
    );
    await control.release([slot], { leaseId: "l1", itemId: "a" });
    expect(enqueued.map((entry) => entry.id)).toEqual(["b"]);
    // A newcomer cannot take the slot reserved for b; b can.
    expect(await control.acquire([slot], { leaseId: "l5", itemId: "d" }, item("d", 5))).toBe(false);
    expect(await control.acquire([slot], { leaseId: "l6", itemId: "b" }, item("b", 20))).toBe(true);
    await control.release([slot], { leaseId: "l6", itemId: "b" });
    // d was due before c, so it goes first.
    expect(enqueued.map((entry) => entry.id)).toEqual(["b", "d"]);
    expect(await control.acquire([slot], { leaseId: "l7", itemId: "d" }, item("d", 5))).toBe(true);
    await control.release([slot], { leaseId: "l7", itemId: "d" });
    expect(await control.acquire([slot], { leaseId: "l8", itemId: "c" }, item("c", 30))).toBe(true);
    await control.release([slot], { leaseId: "l8", itemId: "c" });
    // Nothing is left in the Store once every item ran.
    expect(await store.list({ prefix: PREFIX })).toEqual([]);
  });

  it("frees the slot of a holder that stopped extending once its lease is over", async () => {
    const { control, slot, clock, enqueued } = setup(1000);
    expect(await control.acquire([slot], { leaseId: "dead", itemId: "a" }, item("a", 0))).toBe(
      true,
    );
    expect(await control.acquire([slot], { leaseId: "l2", itemId: "b" }, item("b", 0))).toBe(false);
    clock.now = 999;
    expect(await control.sweep()).toBe(0);
    clock.now = 1000;
    expect(await control.sweep()).toBe(1);
    expect(enqueued.map((entry) => entry.id)).toEqual(["b"]);
    expect(await control.acquire([slot], { leaseId: "l3", itemId: "b" }, item("b", 0))).toBe(true);
  });

  it("wakes a parked item again when the enqueue after its wake-up was lost in a crash", async () => {
    const { control, slot, clock, enqueued } = setup(1000);
    expect(await control.acquire([slot], { leaseId: "l1", itemId: "a" }, item("a", 0))).toBe(true);
    expect(await control.acquire([slot], { leaseId: "l2", itemId: "b" }, item("b", 0))).toBe(false);
    await control.release([slot], { leaseId: "l1", itemId: "a" });
    // The worker died right after the release commit: b's reservation exists, b is not queued.
    enqueued.length = 0;
    clock.now = 999;
    expect(await control.sweep()).toBe(0);
    clock.now = 1000;
    expect(await control.sweep()).toBe(1);
    expect(enqueued.map((entry) => entry.id)).toEqual(["b"]);
    expect(await control.acquire([slot], { leaseId: "l3", itemId: "b" }, item("b", 0))).toBe(true);
  });

  it("keeps a holder that extends its lease", async () => {
    const { control, slot, clock } = setup(1000);
    expect(await control.acquire([slot], { leaseId: "l1", itemId: "a" }, item("a", 0))).toBe(true);
    clock.now = 900;
    await control.extend([slot], { leaseId: "l1", itemId: "a" });
    clock.now = 1500;
    expect(await control.acquire([slot], { leaseId: "l2", itemId: "b" }, item("b", 0))).toBe(false);
  });

  it("admits new runs with a reservation while a key has room, parks the rest", async () => {
    const { control, slot, enqueued } = setup();
    const wide = { ...slot, limit: 2 };
    const admitted = await control.admit(
      ["a", "b", "c"].map((id) => ({ slots: [wide], item: item(id, 0) })),
    );
    expect(admitted.map((entry) => entry.id)).toEqual(["a", "b"]);
    expect(await control.acquire([wide], { leaseId: "l1", itemId: "a" }, item("a", 0))).toBe(true);
    expect(await control.acquire([wide], { leaseId: "l2", itemId: "b" }, item("b", 0))).toBe(true);
    await control.release([wide], { leaseId: "l1", itemId: "a" });
    expect(enqueued.map((entry) => entry.id)).toEqual(["c"]);
  });

  it("never exceeds the limit and never loses a wake-up under any interleaving", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 24 }),
        async (limit, delays) => {
          const { control, slot } = setupShared(limit);
          const leased = new Set<string>();
          const queued = new Set<string>();
          const wakers = new Map<string, () => void>();
          control.onEnqueue = (id) => {
            if (leased.has(id)) return; // the queue dedupes an item that is still leased
            queued.add(id);
            wakers.get(id)?.();
          };
          let active = 0;
          let max = 0;
          const turns = async (count: number) => {
            for (let turn = 0; turn < count; turn++) await new Promise((r) => setImmediate(r));
          };
          const runItem = async (index: number, delay: number) => {
            const id = `i${index}`;
            const parked = item(id, index);
            for (let claim = 0; ; claim++) {
              leased.add(id);
              queued.delete(id);
              const holder = { leaseId: `${id}:${claim}`, itemId: id };
              if (await control.it.acquire([slot], holder, parked)) {
                active++;
                max = Math.max(max, active);
                await turns(delay);
                active--;
                leased.delete(id);
                await control.it.release([slot], holder);
                return;
              }
              leased.delete(id);
              await control.it.requeueIfReserved([slot], parked);
              if (!queued.has(id)) await new Promise<void>((resolve) => wakers.set(id, resolve));
            }
          };
          // Every item ran (a lost wake-up would leave one waiting forever, failing on timeout).
          await Promise.all(delays.map((delay, index) => runItem(index, delay)));
          expect(max).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("validates the option, naming the field", () => {
    expect(parseConcurrency(3, "concurrency")).toEqual([{ limit: 3, scope: "fn" }]);
    expect(
      parseConcurrency([{ limit: 2, key: "event.data.a", scope: "account" }], "concurrency"),
    ).toEqual([{ limit: 2, key: "event.data.a", scope: "env" }]);
    expect(() => parseConcurrency([], "concurrency")).toThrow(/concurrency/);
    expect(() => parseConcurrency([{ limit: 1 }, { limit: 1 }, { limit: 1 }], "c")).toThrow(
      /one or two/,
    );
    expect(() => parseConcurrency({ limit: 1, scope: "world" }, "concurrency")).toThrow(
      /concurrency\.scope/,
    );
  });

  it("keys fn-scoped slots per function and env-scoped ones across functions", () => {
    const limits = [
      { limit: 1, scope: "fn" as const, key: "event.data.user" },
      { limit: 1, scope: "env" as const, key: "event.data.user" },
    ];
    const [fnA, envA] = runSlots(PREFIX, "a", limits, event({ user: "u1" })) ?? [];
    const [fnB, envB] = runSlots(PREFIX, "b", limits, event({ user: "u1" })) ?? [];
    expect(fnA?.key).not.toBe(fnB?.key);
    expect(envA?.key).toBe(envB?.key);
    expect(fnA?.value).toBe("u1");
  });
});

/** A control whose enqueue reports to a hook the interleaving test sets. */
function setupShared(limit: number) {
  const store = createMemoryStore();
  const hooks = { onEnqueue: (_id: string) => {} };
  const control = createConcurrencyControl({
    store,
    commit: (ops) => store.commit(ops),
    enqueue: async (items) => {
      for (const entry of items) if (entry.id !== undefined) hooks.onEnqueue(entry.id);
    },
    now: () => 0,
    leaseMs: 60_000,
    prefix: PREFIX,
  });
  const [slot] = runSlots(PREFIX, "f", [{ limit, scope: "fn" }], event({})) ?? [];
  if (!slot) throw new Error("no slot");
  return {
    slot: { ...slot, limit },
    control: {
      it: control,
      set onEnqueue(hook: (id: string) => void) {
        hooks.onEnqueue = hook;
      },
    },
  };
}
