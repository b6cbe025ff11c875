import { defineActor } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryStore,
  jsonCodec,
  ManualClock,
  type StoreOp,
} from "@troupe/core";
import { expect, it } from "vitest";
import { z } from "zod";
import { createStreams, type StreamEvent } from "../src/index.js";
import { actorStreams, interceptCommits, waitFor } from "./streams-suite.js";

/** A memory Store whose commits are recorded, and held back while `hold` returns true. */
function recordingStore(hold: (ops: readonly StoreOp[]) => boolean = () => false) {
  const inner = createMemoryStore();
  const commits: (readonly StoreOp[])[] = [];
  const held: (() => void)[] = [];
  const store = interceptCommits(inner, "recording", async (ops, next) => {
    commits.push(ops);
    if (hold(ops)) await new Promise<void>((resolve) => held.push(resolve));
    return next(ops);
  });
  return {
    store,
    commits,
    release: () => {
      for (const resume of held.splice(0)) resume();
    },
  };
}

it("publishes to several streams issued together are stored in one commit, each stream in order", async () => {
  const { store, commits } = recordingStore();
  const pubsub = createMemoryPubSub();
  const streams = createStreams({ store, pubsub, sweepMs: 0 });
  try {
    const published = await Promise.all(
      Array.from({ length: 30 }, (_, i) => streams.publish("rooms", `r${i % 10}`, { i })),
    );
    expect(commits).toHaveLength(1);
    for (let room = 0; room < 10; room++) {
      const mine = published.filter((event) => event.key === `r${room}`);
      expect(mine.map((event) => event.seq)).toEqual([1, 2, 3]);
      expect(mine.map((event) => (event.data as { i: number }).i)).toEqual([
        room,
        room + 10,
        room + 20,
      ]);
    }
    const events = await streams.read("rooms", "r3", 0, 10);
    expect(events.map((event) => event.data)).toEqual([{ i: 3 }, { i: 13 }, { i: 23 }]);
  } finally {
    await streams.close();
    await pubsub.close();
  }
});

it("a stream whose head another process moved is read again; the other streams of the commit are not held back", async () => {
  const { store, commits } = recordingStore();
  const pubsub = createMemoryPubSub();
  const here = createStreams({ store, pubsub, sweepMs: 0 });
  const elsewhere = createStreams({ store, pubsub, sweepMs: 0 });
  try {
    await here.publish("rooms", "busy", 1); // `here` now believes it knows the head of "busy"
    await elsewhere.publish("rooms", "busy", 2);
    commits.length = 0;
    const [busy, quiet] = await Promise.all([
      here.publish("rooms", "busy", 3),
      here.publish("rooms", "quiet", 1),
    ]);
    expect(busy.seq).toBe(3);
    expect(quiet.seq).toBe(1);
    // The first try failed on the stale head of "busy"; the retry stored both.
    expect(commits).toHaveLength(2);
    expect((await here.read("rooms", "busy", 0, 10)).map((event) => event.data)).toEqual([1, 2, 3]);
  } finally {
    await here.close();
    await elsewhere.close();
    await pubsub.close();
  }
});

it("a commit held back holds only its own streams; that stream's next publishes wait for it, in order", async () => {
  let holding = true;
  const isSlow = (ops: readonly StoreOp[]) => ops.some((op) => op.key.includes("/slow"));
  const { store, commits, release } = recordingStore((ops) => holding && isSlow(ops));
  const pubsub = createMemoryPubSub();
  const streams = createStreams({ store, pubsub, sweepMs: 0 });
  const seen: number[] = [];
  await streams.subscribe("rooms", "slow", (event) => {
    seen.push(event.seq);
  });
  try {
    const first = streams.publish("rooms", "slow", 1);
    await waitFor(() => commits.some(isSlow), "the held commit");
    // Another stream is stored while the first commit is held.
    const fast: number[] = [];
    for (const data of [1, 2])
      void streams.publish("rooms", "fast", data).then((e) => fast.push(e.seq));
    await waitFor(() => fast.length === 2, "the other stream's publishes", 2_000);
    expect(fast).toEqual([1, 2]);
    // The held stream's next publishes gather behind its commit instead of going beside it.
    const later = [streams.publish("rooms", "slow", 2), streams.publish("rooms", "slow", 3)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(commits.filter(isSlow)).toHaveLength(1);
    holding = false;
    release();
    const events = await Promise.all([first, ...later]);
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3]);
    expect(commits.filter(isSlow)).toHaveLength(2);
    await waitFor(() => seen.length === 3, "three deliveries");
    expect(seen).toEqual([1, 2, 3]);
    expect((await streams.read("rooms", "slow", 0, 10)).map((event) => event.data)).toEqual([
      1, 2, 3,
    ]);
  } finally {
    holding = false;
    release();
    await streams.close();
    await pubsub.close();
  }
});

/** Cursor keys (the default layout keeps them under `streams/c/`). */
const isCursorOp = (op: StoreOp) => op.key.startsWith("streams/c/");

const seenBy = new Map<string, number[]>();
const Tally = defineActor({
  name: "Tally",
  key: "string",
  state: z.object({}),
  initialState: () => ({}),
  saveMode: "explicit",
  actions: {
    add(ctx, event: StreamEvent) {
      const seen = seenBy.get(ctx.key) ?? [];
      seen.push(event.seq);
      seenBy.set(ctx.key, seen);
    },
  },
});

it("delivery to an actor does not wait for its cursor write; the cursor catches up with what was delivered", async () => {
  let holding = true;
  const { store, commits, release } = recordingStore((ops) => holding && ops.some(isCursorOp));
  const { streams, close } = actorStreams(store, Tally, { namespace: "counts", action: "add" });
  try {
    await streams.publish("counts", "c1", 1);
    await waitFor(() => (seenBy.get("c1") ?? []).length === 1, "the first event");
    await waitFor(() => commits.some((ops) => ops.some(isCursorOp)), "a cursor write");
    // The cursor write is held: the next events are delivered all the same.
    for (let i = 2; i <= 5; i++) await streams.publish("counts", "c1", i);
    await waitFor(() => (seenBy.get("c1") ?? []).length === 5, "five events");
    expect(seenBy.get("c1")).toEqual([1, 2, 3, 4, 5]);
    holding = false;
    release();
    await streams.close();
    // Every cursor move made while one was held went in one more commit, up to the last event.
    const cursorCommits = commits.filter((ops) => ops.some(isCursorOp));
    expect(cursorCommits.length).toBe(2);
    const cursors = await store.list({ prefix: "streams/c/" });
    expect(cursors).toHaveLength(1);
    expect((jsonCodec.decode(cursors[0]?.value ?? new Uint8Array()) as { seq: number }).seq).toBe(
      5,
    );
  } finally {
    holding = false;
    release();
    await close();
  }
});

it("cursors moved within cursorFlushMs go in one commit, however many events and streams moved them", async () => {
  const { store, commits } = recordingStore();
  const clock = new ManualClock();
  const { streams, close } = actorStreams(
    store,
    Tally,
    { namespace: "flushed", action: "add" },
    { clock, cursorFlushMs: 10 },
  );
  const delivered = () =>
    Array.from({ length: 10 }, (_, i) => seenBy.get(`f${i}`)?.length ?? 0).reduce((a, b) => a + b);
  const cursorCommits = () => commits.filter((ops) => ops.some(isCursorOp));
  try {
    // 100 events over 10 streams, each round delivered before the next is published.
    for (let round = 1; round <= 10; round++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => streams.publish("flushed", `f${i}`, round)),
      );
      await waitFor(() => delivered() === round * 10, `round ${round} delivered`);
    }
    await clock.advance(9);
    expect(cursorCommits()).toHaveLength(0);
    await clock.advance(1);
    await waitFor(() => cursorCommits().length > 0, "the cursor commit");
    // One commit for the 100 deliveries, moving each of the 10 cursors to its last event.
    expect(cursorCommits()).toHaveLength(1);
    expect(cursorCommits()[0]?.filter(isCursorOp)).toHaveLength(10);
    const cursors = await store.list({ prefix: "streams/c/" });
    expect(cursors.map((entry) => (jsonCodec.decode(entry.value) as { seq: number }).seq)).toEqual(
      Array.from({ length: 10 }, () => 10),
    );
    for (let i = 0; i < 10; i++) {
      expect(seenBy.get(`f${i}`)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  } finally {
    await close();
  }
});
