import { createMemoryPubSub, createMemoryStore, ManualClock, TroupeError } from "@troupe/core";
import { expect, it } from "vitest";
import { createStreams } from "../src/index.js";

it("the sweep removes events older than maxAgeMs; the sequence goes on after them", async () => {
  const clock = new ManualClock(1_000_000);
  const store = createMemoryStore();
  const pubsub = createMemoryPubSub();
  const streams = createStreams({ store, pubsub, clock, maxAgeMs: 60_000, sweepMs: 0 });
  try {
    for (let i = 1; i <= 3; i++) await streams.publish("logs", "a", i);
    await clock.advance(30_000);
    for (let i = 4; i <= 5; i++) await streams.publish("logs", "a", i);
    await streams.sweep();
    expect(await streams.firstRetained("logs", "a")).toBe(1);
    await clock.advance(40_000); // events 1-3 are 70 s old, 4-5 are 40 s old
    await streams.sweep();
    expect(await streams.firstRetained("logs", "a")).toBe(4);
    const handle = await streams.subscribe("logs", "a", () => {}, { after: 1 });
    expect(TroupeError.isInstance(await handle.ended, "STREAM_TRIMMED")).toBe(true);
    await clock.advance(60_000);
    await streams.sweep();
    expect(await streams.firstRetained("logs", "a")).toBeUndefined();
    expect((await streams.publish("logs", "a", 6)).seq).toBe(6);
  } finally {
    await streams.close();
    await pubsub.close();
  }
});
