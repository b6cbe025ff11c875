// The bound on how far actor delivery runs past a consumer's stored cursor (`cursorMaxBehind`):
// how many cursor commits N events cost, that delivery waits for a held cursor write, and how
// many events a crash redelivers.
import { createActorSystem } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  jsonCodec,
  ManualClock,
  type Store,
  type StoreOp,
} from "@troupe/core";
import { expect, it } from "vitest";
import { createStreams, implicitSubscription } from "../src/index.js";
import { actorStreams, interceptCommits, recordingActor, waitFor } from "./streams-suite.js";

const isCursorOp = (op: StoreOp) => op.key.startsWith("streams/c/");

/**
 * A memory Store whose cursor commits are counted and held back while `holding`, and that fails
 * every commit once `dead` (the process that used it crashed: nothing more of it reaches the Store).
 */
function cursorStore(inner: Store = createMemoryStore()) {
  const held: (() => void)[] = [];
  const control = { cursorCommits: 0, holding: false, dead: false };
  const store = interceptCommits(inner, "cursor-recording", async (ops, next) => {
    if (control.dead) throw new Error("this process crashed");
    if (ops.some(isCursorOp)) {
      control.cursorCommits += 1;
      if (control.holding) await new Promise<void>((resolve) => held.push(resolve));
    }
    return next(ops);
  });
  const release = () => {
    control.holding = false;
    for (const resume of held.splice(0)) resume();
  };
  return { store, control, release };
}

async function storedCursor(store: Store): Promise<number> {
  const [entry] = await store.list({ prefix: "streams/c/" });
  return entry === undefined ? 0 : (jsonCodec.decode(entry.value) as { seq: number }).seq;
}

it("one consumer, events one at a time, no flush window: a cursor commit per maxBehind / 2 events, the stored cursor never maxBehind behind", async () => {
  const got: number[] = [];
  const Counted = recordingActor("Counted", got);
  const { store, control } = cursorStore();
  // The flush window never ends (the clock does not move): only the bound writes cursors.
  const { streams, close } = actorStreams(
    store,
    Counted,
    { namespace: "counted", action: "take" },
    { clock: new ManualClock(), cursorMaxBehind: 10 },
  );
  try {
    for (let i = 1; i <= 100; i++) {
      await streams.publish("counted", "one", i);
      await waitFor(() => got.length === i, `event ${i}`);
      await waitFor(async () => i - (await storedCursor(store)) < 10, `the cursor near ${i}`);
    }
    // Written at 5, 10, …, 100: 20 commits for 100 events (before: none until the window ended).
    expect(control.cursorCommits).toBe(20);
    expect(await storedCursor(store)).toBe(100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  } finally {
    await close();
  }
});

it("delivery waits for a cursor write held back once the consumer is maxBehind past its stored cursor", async () => {
  const got: number[] = [];
  const Held = recordingActor("Held", got);
  const { store, control, release } = cursorStore();
  const { streams, close } = actorStreams(
    store,
    Held,
    { namespace: "held", action: "take" },
    { cursorMaxBehind: 10 },
  );
  try {
    control.holding = true;
    await Promise.all(Array.from({ length: 50 }, (_, i) => streams.publish("held", "h", i + 1)));
    await waitFor(() => got.length === 10, "ten events");
    // The write of cursor 5 is held: delivery stops 10 past the stored cursor (0).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    release();
    await waitFor(() => got.length === 50, "every event");
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await waitFor(async () => (await storedCursor(store)) === 50, "the cursor at 50");
  } finally {
    release();
    await close();
  }
});

it("a crash redelivers at most maxBehind events per consumer, and every event is delivered", async () => {
  const got: number[] = [];
  const Crashy = recordingActor("Crashy", got);
  const shared = createMemoryStore();
  const first = cursorStore(shared);
  const pubsub = createMemoryPubSub();
  const feed = implicitSubscription(Crashy, { namespace: "crash", action: "take" });
  // Its flush window never ends (only the bound writes cursors); now, for retention by age.
  const clock = new ManualClock(Date.now());
  // The actors' own Store calls are not the streams' (the actors outlive the crashed streams).
  const system = createActorSystem({ store: shared, queue: createMemoryQueue(), actors: [Crashy] });
  const crashed = createStreams({
    store: first.store,
    pubsub,
    system,
    clock,
    implicit: [feed],
    sweepMs: 0,
    cursorMaxBehind: 10,
  });
  const cleanup: (() => Promise<void>)[] = [];
  try {
    for (let i = 1; i <= 37; i++) await crashed.publish("crash", "c", i);
    await waitFor(() => got.length === 37, "37 events");
    await waitFor(async () => 37 - (await storedCursor(shared)) < 10, "the cursor near 37");
    first.control.dead = true;
    const stored = await storedCursor(shared);
    got.length = 0;
    // The next process's first sweep delivers to every consumer behind.
    const next = createStreams({
      store: shared,
      pubsub,
      system,
      implicit: [feed],
      sweepMs: 0,
    });
    cleanup.push(async () => {
      await next.close();
    });
    await next.sweep();
    await waitFor(() => got.length === 37 - stored, "the redelivered events");
    expect(got).toEqual(Array.from({ length: 37 - stored }, (_, i) => stored + i + 1));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(10);
  } finally {
    for (const each of cleanup) await each();
    await crashed.close().catch(() => undefined);
    await system.close();
    await pubsub.close();
  }
});

it("close does not wait for a failing cursor write's retry: delivery held at maxBehind stops", async () => {
  const got: number[] = [];
  const Stuck = recordingActor("Stuck", got);
  const store = interceptCommits(createMemoryStore(), "failing-cursors", (ops, next) => {
    if (ops.some(isCursorOp)) throw new Error("cursor writes fail");
    return next(ops);
  });
  const { streams, close } = actorStreams(
    store,
    Stuck,
    { namespace: "stuck", action: "take" },
    // The retry would come after the test's timeout: close must not wait for it.
    { retryMs: 600_000, cursorMaxBehind: 4 },
  );
  try {
    for (let i = 1; i <= 10; i++) await streams.publish("stuck", "s", i);
    await waitFor(() => got.length === 4, "four events");
    await streams.close();
    expect(got).toEqual([1, 2, 3, 4]);
  } finally {
    await close();
  }
});
