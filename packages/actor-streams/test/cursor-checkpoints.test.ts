import { createActorSystem } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore, jsonCodec } from "@troupe/core";
import { expect, it } from "vitest";
import { createStreams } from "../src/index.js";
import { recordingActor, waitFor } from "./streams-suite.js";

const got: number[] = [];
const Reader = recordingActor("Reader", got);

it("a subscription removed by another process stops, and its cursor is not written back", async () => {
  const store = createMemoryStore();
  const pubsub = createMemoryPubSub();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Reader] });
  const here = createStreams({ store, pubsub, system, sweepMs: 0, retryMs: 20 });
  const elsewhere = createStreams({ store, pubsub, sweepMs: 0 });
  try {
    const subscription = await here.subscribeActor("news", "n", {
      actor: system.get(Reader, "r"),
      action: "take",
    });
    for (let i = 1; i <= 3; i++) await here.publish("news", "n", i);
    await waitFor(() => got.length === 3, "three events");
    // Removed by another process: this one still has the consumer in its list.
    await elsewhere.unsubscribeActor(subscription);
    for (let i = 4; i <= 8; i++) await here.publish("news", "n", i);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // At most the round that found out: the cursor write for it fails its guard, and that stops it.
    expect(got.slice(0, 3)).toEqual([1, 2, 3]);
    const after = got.length;
    for (let i = 9; i <= 12; i++) await here.publish("news", "n", i);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(got.length).toBe(after);
    await here.close();
    expect(await store.list({ prefix: "streams/c/" })).toEqual([]);
  } finally {
    await here.close();
    await elsewhere.close();
    await system.close();
    await pubsub.close();
  }
});

it("two processes delivering to one consumer leave its cursor at the last event, each event delivered", async () => {
  got.length = 0;
  const store = createMemoryStore();
  const pubsub = createMemoryPubSub();
  const systems = [0, 1].map(() =>
    createActorSystem({ store, queue: createMemoryQueue(), actors: [Reader] }),
  );
  const [first, second] = systems.map((system) =>
    createStreams({ store, pubsub, system, sweepMs: 0, retryMs: 20 }),
  );
  if (first === undefined || second === undefined) throw new Error("two processes");
  try {
    await first.subscribeActor("news", "both", {
      actor: { type: "Reader", key: "x" },
      action: "take",
    });
    // Each process publishes (and so delivers) its own events, interleaved.
    for (let i = 1; i <= 20; i++) await (i % 2 === 0 ? first : second).publish("news", "both", i);
    await waitFor(() => new Set(got).size === 20, "all 20 events");
    await first.close();
    await second.close();
    const [cursor] = await store.list({ prefix: "streams/c/" });
    expect((jsonCodec.decode(cursor?.value ?? new Uint8Array()) as { seq: number }).seq).toBe(20);
    // At least once: every event, each process in order.
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  } finally {
    await first.close();
    await second.close();
    for (const system of systems) await system.close();
    await pubsub.close();
  }
});
