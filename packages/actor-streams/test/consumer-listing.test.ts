import { createActorSystem } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  ManualClock,
  type Store,
} from "@troupe/core";
import { expect, it } from "vitest";
import { CONSUMERS_REFRESH_MS } from "../src/actor-consumers.js";
import { createStreams, implicitSubscription } from "../src/index.js";
import { recordingActor, waitFor } from "./streams-suite.js";

const seen: number[] = [];
const Feed = recordingActor("Feed", seen);

it("streams due for a fresh list of consumers are listed one at a time, never beside a cursor write, and delivery goes on meanwhile", async () => {
  const inner = createMemoryStore();
  let holding = false;
  let listsInFlight = 0;
  let mostInFlight = 0;
  let lists = 0;
  let cursorCommits = 0;
  const held: (() => void)[] = [];
  const store: Store = {
    ...inner,
    get: (key) => inner.get(key),
    getMany: (keys) => inner.getMany(keys),
    commit(ops) {
      if (ops.some((op) => op.key.startsWith("streams/c/"))) cursorCommits += 1;
      return inner.commit(ops);
    },
    close: () => inner.close(),
    async list(options) {
      lists += 1;
      listsInFlight += 1;
      mostInFlight = Math.max(mostInFlight, listsInFlight);
      try {
        if (holding) await new Promise<void>((resolve) => held.push(resolve));
        return await inner.list(options);
      } finally {
        listsInFlight -= 1;
      }
    },
  };
  const pubsub = createMemoryPubSub();
  const clock = new ManualClock();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Feed] });
  const streams = createStreams({
    store,
    pubsub,
    system,
    clock,
    implicit: [implicitSubscription(Feed, { namespace: "feeds", action: "take" })],
    sweepMs: 0,
    cursorFlushMs: 10,
  });
  const publishToAll = () =>
    Promise.all(Array.from({ length: 10 }, (_, i) => streams.publish("feeds", `f${i}`, i)));
  try {
    await publishToAll();
    await waitFor(() => seen.length === 10, "the first events");
    // Every stream's list is now due again; the next events start the listings in the background.
    holding = true;
    lists = 0;
    mostInFlight = 0;
    await clock.advance(CONSUMERS_REFRESH_MS);
    expect(cursorCommits).toBe(1);
    await publishToAll();
    await waitFor(() => seen.length === 20, "the second events, while a listing is held");
    expect(lists).toBe(1);
    // The cursors moved by the second events wait for the listing in flight...
    await clock.advance(10);
    expect(cursorCommits).toBe(1);
    // ...and go before the listings waiting behind it.
    for (const resume of held.splice(0)) resume();
    await waitFor(() => lists === 2, "the second listing");
    expect(cursorCommits).toBe(2);
    // Each listing starts when the one before it finished.
    while (lists < 10) {
      const before = lists;
      for (const resume of held.splice(0)) resume();
      await waitFor(() => lists > before, "the next listing");
    }
    holding = false;
    for (const resume of held.splice(0)) resume();
    expect(mostInFlight).toBe(1);
  } finally {
    holding = false;
    for (const resume of held.splice(0)) resume();
    await streams.close();
    await system.close();
    await pubsub.close();
  }
});
