import { Socket } from "node:net";
import { fromUtf8, utf8 } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { connectOrFail, openAdminClient, redisUrl, testPrefix } from "../test/redis-env.js";
import { createRedisPubSub } from "./redis-pubsub.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

let counter = 0;
function open(prefix: string) {
  const pubsub = createRedisPubSub({ url: redisUrl, prefix });
  closers.push(() => pubsub.close());
  return pubsub;
}
const freshPrefix = () =>
  testPrefix(`pubsub_${process.pid}_${Date.now().toString(36)}_${counter++}`);

describe("redis pubsub", () => {
  it("carries every byte value exactly and puts the prefix on the wire channel", async () => {
    const prefix = freshPrefix();
    const pubsub = open(prefix);
    const raw = openAdminClient();
    await connectOrFail(raw);
    closers.push(async () => {
      raw.disconnect();
    });
    const onWire: Buffer[] = [];
    raw.on("messageBuffer", (_channel: Buffer, message: Buffer) => onWire.push(message));
    await raw.subscribe(`${prefix}bytes`);
    const received: Uint8Array[] = [];
    await pubsub.subscribe("bytes", (message) => {
      received.push(message);
    });
    const all = Uint8Array.from({ length: 256 }, (_, index) => index);
    await pubsub.publish("bytes", all);
    await waitFor(() => received.length === 1 && onWire.length === 1, { what: "both deliveries" });
    expect(Buffer.from(received[0] as Uint8Array)).toEqual(Buffer.from(all));
    expect(onWire[0]).toEqual(Buffer.from(all));
  });

  it("keeps deployments with different prefixes apart", async () => {
    const first = open(freshPrefix());
    const second = open(freshPrefix());
    const heard: string[] = [];
    await first.subscribe("wake", (message) => {
      heard.push(`first ${fromUtf8(message)}`);
    });
    await second.subscribe("wake", (message) => {
      heard.push(`second ${fromUtf8(message)}`);
    });
    await second.publish("wake", utf8("only second"));
    await first.publish("wake", utf8("only first"));
    await waitFor(() => heard.length >= 2, { what: "both messages" });
    // Later messages on the same connections arrive after earlier ones, so a stray would show.
    await second.publish("wake", utf8("marker"));
    await waitFor(() => heard.includes("second marker"), { what: "the marker" });
    expect(heard.sort()).toEqual(["first only first", "second marker", "second only second"]);
  });

  it("a second subscriber is not told it is live before the channel's SUBSCRIBE is confirmed", async () => {
    const prefix = freshPrefix();
    const bus = open(prefix);
    const sender = open(prefix);
    // The subscriber connection is up before the race starts.
    await bus.subscribe("warm", () => undefined);
    // Hold the SUBSCRIBE of channel "race" on its way to Redis until released.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const subscribe = Redis.prototype.subscribe;
    let intercepted = 0;
    const patched = function (this: Redis, ...args: unknown[]) {
      const call = () => (subscribe as (...a: unknown[]) => unknown).apply(this, args);
      if (args[0] !== `${prefix}race`) return call();
      intercepted++;
      return held.then(call);
    };
    Redis.prototype.subscribe = patched as typeof subscribe;
    try {
      const got: string[] = [];
      const first = bus.subscribe("race", () => {
        got.push("first");
      });
      let secondLive = false;
      const second = bus
        .subscribe("race", () => {
          got.push("second");
        })
        .then(() => {
          secondLive = true;
        });
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(intercepted, "one SUBSCRIBE for the channel, held").toBe(1);
      expect(secondLive, "the second subscribe resolved while SUBSCRIBE was still held").toBe(
        false,
      );
      release();
      await Promise.all([first, second]);
      await sender.publish("race", utf8("wake"));
      await waitFor(() => got.length === 2, { what: "the wake, heard by both" });
      expect(got.sort()).toEqual(["first", "second"]);
    } finally {
      Redis.prototype.subscribe = subscribe;
      release();
    }
  });

  it("sends the publishes of one turn of the event loop in one socket write, in order", async () => {
    const pubsub = open(freshPrefix());
    const received: string[] = [];
    await pubsub.subscribe("burst", (message) => {
      received.push(fromUtf8(message));
    });
    await pubsub.publish("burst", utf8("first"));
    await waitFor(() => received.length === 1, { what: "the first message" });
    // Count every socket write of this process while 100 publishes start in one turn (the
    // subscriber's connection only reads meanwhile).
    const proto = Socket.prototype as unknown as Record<
      "_write" | "_writev",
      (...args: unknown[]) => void
    >;
    const originals = { _write: proto._write, _writev: proto._writev };
    let writes = 0;
    for (const key of ["_write", "_writev"] as const) {
      const original = originals[key];
      proto[key] = function (this: Socket, ...args: unknown[]) {
        writes += 1;
        return original.apply(this, args);
      };
    }
    try {
      await Promise.all(
        Array.from({ length: 100 }, (_, n) => pubsub.publish("burst", utf8(`${n}`))),
      );
    } finally {
      proto._write = originals._write;
      proto._writev = originals._writev;
    }
    // One write per PUBLISH without the batch.
    expect(writes).toBeLessThanOrEqual(2);
    await waitFor(() => received.length === 101, { what: "101 messages" });
    expect(received.slice(1)).toEqual(Array.from({ length: 100 }, (_, n) => `${n}`));
  });
});
