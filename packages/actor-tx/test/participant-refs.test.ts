import { type ActorSystem, createActorSystem } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { collected } from "@troupe/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createDecisionLog,
  createTransactions,
  defineTxActor,
  type Transactions,
} from "../src/index.js";

// The coordinator keeps a reference per participant across transactions. These tests check that
// such a reference neither misroutes a call to an actor deactivated meanwhile nor keeps the
// deactivated activation's state in memory.

const IDLE_MS = 1_000;
const SWEEP_MS = 100;

/** The states handed to `watch`, held weakly: the test sees whether something still keeps them. */
const watched: WeakRef<object>[] = [];

const Counter = defineTxActor({
  name: "Counter",
  key: "string",
  state: z.object({ n: z.number().int() }),
  initialState: () => ({ n: 0 }),
  idleTimeoutMs: IDLE_MS,
  actions: {
    n: { readOnly: true, handler: (ctx): number => ctx.state.n },
    watch: {
      readOnly: true,
      handler: (ctx) => {
        watched.push(new WeakRef(ctx.state));
      },
    },
    rest: (ctx) => ctx.deactivate(),
  },
  transactional: {
    add(ctx, by: number): number {
      ctx.state.n += by;
      return ctx.state.n;
    },
  },
});

/** Lets pending promise callbacks and I/O callbacks run. */
const turnLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("participant references kept by the coordinator across transactions", () => {
  let clock: ManualClock;
  let system: ActorSystem;
  let transactions: Transactions;
  beforeEach(() => {
    clock = new ManualClock();
    const store = createMemoryStore();
    const decisions = createDecisionLog({ store });
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      clock,
      idleSweepMs: SWEEP_MS,
      actors: [Counter, decisions.actor],
    });
    transactions = createTransactions({ system, decisions, clock });
  });
  afterEach(async () => {
    transactions.close();
    await system.close();
  });

  const address = (key: string) => ({ type: "Counter", key });
  const addBoth = (by: number) =>
    transactions.run(async (tx) => {
      await tx.call(address("a"), "add", by);
      await tx.call(address("b"), "add", by);
    });
  /**
   * Two transactions: the coordinator's references reach the participants' activations (the
   * first call of a reference finds none active and routes by the table).
   */
  const addBothTwice = async (by: number) => {
    await addBoth(by);
    await addBoth(by);
  };

  /** Waits (in turns of the event loop, not in time) until `a` is no longer active. */
  const deactivated = async () => {
    for (let i = 0; i < 100 && system.isActive(address("a")); i++) await turnLoop();
    return !system.isActive(address("a"));
  };
  const collectedIdle = async () => {
    await clock.advance(IDLE_MS + 3 * SWEEP_MS);
    return deactivated();
  };
  const collectedOnRequest = async () => {
    await system.invoke("Counter", "a", "rest", []);
    return deactivated();
  };

  for (const [how, deactivate] of [
    ["collected for idleness", collectedIdle],
    ["deactivated on request", collectedOnRequest],
  ] as const) {
    it(`reaches a participant ${how} between two transactions: the next one commits on a fresh activation`, async () => {
      await addBothTwice(1);
      expect(await deactivate()).toBe(true);
      await addBoth(2);
      expect(system.isActive(address("a"))).toBe(true);
      expect(await system.invoke("Counter", "a", "n", [])).toBe(4);
      expect(await system.invoke("Counter", "b", "n", [])).toBe(4);
      const stored = await system.inspectState("Counter", "a");
      expect(stored.state).toMatchObject({ value: { n: 4 } });
    });

    it(`does not keep the state of a participant ${how} in memory`, async () => {
      await addBothTwice(1);
      watched.length = 0;
      await system.invoke("Counter", "a", "watch", []);
      expect(await deactivate()).toBe(true);
      // The manual clock lists cancelled timers (with their callbacks) until it next moves.
      await clock.advance(0);
      expect(await collected(handedOut(watched[0]))).toBe(true);
    });
  }
});

/** The state the actor handed to `watch`. */
function handedOut(ref: WeakRef<object> | undefined): WeakRef<object> {
  if (ref === undefined) throw new Error("the actor did not hand out its state");
  return ref;
}
