import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { collected } from "@troupe/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";

// A reference remembers the activation it last reached, so calls skip the table lookup. A
// reference kept after its actor was deactivated must reach the next activation, and must not
// keep the ended one (its state) in memory.

const IDLE_MS = 1_000;
const SWEEP_MS = 100;

/** The states handed to `watch`, held weakly: the test sees whether something still keeps them. */
const watched: WeakRef<object>[] = [];

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  idleTimeoutMs: IDLE_MS,
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
    watch: {
      readOnly: true,
      handler: (ctx) => {
        watched.push(new WeakRef(ctx.state));
      },
    },
    rest: (ctx) => ctx.deactivate(),
  },
});

/** Lets pending promise callbacks and I/O callbacks run. */
const turnLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("a reference kept while its actor is deactivated", () => {
  let clock: ManualClock;
  let system: ActorSystem;
  beforeEach(() => {
    clock = new ManualClock();
    system = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      clock,
      idleSweepMs: SWEEP_MS,
      actors: [Counter],
    });
  });
  afterEach(() => system.close());

  /** Waits (in turns of the event loop, not in time) until the actor is no longer active. */
  const deactivated = async () => {
    const address = { type: "Counter", key: "a" };
    for (let i = 0; i < 100 && system.isActive(address); i++) await turnLoop();
    return !system.isActive(address);
  };
  const collectedIdle = async () => {
    await clock.advance(IDLE_MS + 3 * SWEEP_MS);
    return deactivated();
  };
  const collectedOnRequest = async () => {
    await system.get(Counter, "a").rest();
    return deactivated();
  };

  for (const [how, deactivate] of [
    ["collected for idleness", collectedIdle],
    ["deactivated on request", collectedOnRequest],
  ] as const) {
    it(`calls the next activation after the actor was ${how}`, async () => {
      const kept = system.get(Counter, "a");
      await kept.increment(1); // activates
      await kept.increment(1); // through the activation the reference now remembers
      expect(await deactivate()).toBe(true);
      expect(await kept.increment(1)).toBe(3);
      expect(system.isActive({ type: "Counter", key: "a" })).toBe(true);
    });

    it(`does not keep the state of an actor ${how} in memory`, async () => {
      const kept = system.get(Counter, "a");
      await kept.increment(1);
      await kept.watch();
      expect(await deactivate()).toBe(true);
      expect(await collected(handedOut(watched.pop()))).toBe(true);
      expect(await kept.increment(1)).toBe(2); // still usable (and still held until here)
    });
  }
});

/** The state the actor handed to `watch`. */
function handedOut(ref: WeakRef<object> | undefined): WeakRef<object> {
  if (ref === undefined) throw new Error("the actor did not hand out its state");
  return ref;
}
