import { createMemoryPubSub, noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { describe, expect, it } from "vitest";
import type { RealtimeFrame } from "./frames.js";
import { createRealtimeHub } from "./hub.js";

const at = "2026-01-01T00:00:00.000Z";
const data = (channel: string, topic: string, n: number): RealtimeFrame => ({
  kind: "data",
  channel,
  topic,
  data: n,
  created_at: at,
});

describe("realtime hub", () => {
  it("delivers a channel's topics to their subscribers, in publish order", async () => {
    const pubsub = createMemoryPubSub();
    const hub = createRealtimeHub({ pubsub, prefix: "t/", logger: noopLogger });
    const progress: unknown[] = [];
    const both: string[] = [];
    await hub.subscribe({ channel: "c", topics: ["progress"] }, (f) => progress.push(f.data));
    await hub.subscribe({ channel: "c", topics: ["progress", "done"] }, (f) =>
      both.push(`${f.topic}:${String(f.data)}`),
    );
    const sends: Promise<void>[] = [];
    for (let n = 0; n < 50; n += 1) sends.push(hub.publish(data("c", "progress", n)));
    sends.push(hub.publish(data("c", "done", 50)));
    sends.push(hub.publish(data("other", "progress", 99)));
    await Promise.all(sends);
    await waitFor(() => both.length === 51, { what: "51 frames" });
    expect(progress).toEqual([...Array(50).keys()]);
    expect(both.at(-1)).toBe("done:50");
    await hub.close();
    await pubsub.close();
  });

  it("shares one PubSub subscription per channel and drops it with the last subscriber", async () => {
    const pubsub = createMemoryPubSub();
    const hub = createRealtimeHub({ pubsub, prefix: "t/", logger: noopLogger });
    const seen: unknown[] = [];
    const stopA = await hub.subscribe({ channel: "c", topics: ["x"] }, (f) => seen.push(f.data));
    const stopB = await hub.subscribe({ channel: "c", topics: ["x"] }, (f) => seen.push(f.data));
    expect(hub.subscriberCount()).toBe(2);
    await hub.publish(data("c", "x", 1));
    await waitFor(() => seen.length === 2, { what: "two deliveries" });
    await stopA();
    await stopA();
    expect(hub.subscriberCount()).toBe(1);
    await stopB();
    expect(hub.subscriberCount()).toBe(0);
    await hub.publish(data("c", "x", 2));
    const late: unknown[] = [];
    await hub.subscribe({ channel: "c", topics: ["x"] }, (f) => late.push(f.data));
    await hub.publish(data("c", "x", 3));
    await waitFor(() => late.length === 1, { what: "the later frame" });
    expect(late).toEqual([3]);
    expect(seen).toEqual([1, 1]);
    await hub.close();
    await pubsub.close();
  });

  it("reaches another hub on the same PubSub, as another process would", async () => {
    const pubsub = createMemoryPubSub();
    const publisher = createRealtimeHub({ pubsub, prefix: "t/", logger: noopLogger });
    const subscriber = createRealtimeHub({ pubsub, prefix: "t/", logger: noopLogger });
    const seen: unknown[] = [];
    await subscriber.subscribe({ channel: "c", topics: ["x"] }, (f) => seen.push(f.data));
    await publisher.publish(data("c", "x", 7));
    await waitFor(() => seen.length === 1, { what: "the frame" });
    expect(seen).toEqual([7]);
    await publisher.close();
    await subscriber.close();
    await pubsub.close();
  });
});
