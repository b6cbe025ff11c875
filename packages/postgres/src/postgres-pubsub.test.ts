import { TroupeError } from "@troupe/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertReachable, openAdminPool, postgresUrl } from "../test/support.js";
import { waitUntil } from "../test/wait.js";
import { createPostgresPubSub, POSTGRES_MAX_MESSAGE_BYTES } from "./postgres-pubsub.js";

const admin = openAdminPool();
beforeAll(() => assertReachable(admin));
afterAll(() => admin.end());

const prefix = () => `t${process.pid}.${Math.random().toString(36).slice(2, 8)}:`;

describe("createPostgresPubSub options", () => {
  it("names the bad option", () => {
    expect(() =>
      createPostgresPubSub({ connectionString: postgresUrl, channelPrefix: "bad prefix" }),
    ).toThrow(/createPostgresPubSub\.options\.channelPrefix/);
    expect(() => createPostgresPubSub({} as never)).toThrow(
      /createPostgresPubSub\.options\.connectionString/,
    );
  });
});

describe("postgres pubsub", () => {
  it("carries messages up to the NOTIFY limit and rejects bigger ones naming the field", async () => {
    const channelPrefix = prefix();
    const sender = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    const receiver = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    const received: Uint8Array[] = [];
    await receiver.subscribe("big", (message) => {
      received.push(message);
    });
    const largest = new Uint8Array(POSTGRES_MAX_MESSAGE_BYTES).map((_, index) => index % 251);
    await sender.publish("big", largest);
    await sender.publish("big", new Uint8Array(0));
    const error = await sender
      .publish("big", new Uint8Array(POSTGRES_MAX_MESSAGE_BYTES + 1))
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as Error).message).toMatch(/^message:/);
    await waitUntil(() => received.length === 2, "both messages");
    expect(received[0]).toEqual(largest);
    expect(received[1]).toEqual(new Uint8Array(0));
    await Promise.all([sender.close(), receiver.close()]);
  });

  it("maps long channel names to distinct identifiers", async () => {
    const channelPrefix = prefix();
    const bus = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    const base = "c".repeat(100);
    const got: string[] = [];
    await bus.subscribe(`${base}/1`, (_, channel) => {
      got.push(channel);
    });
    await bus.subscribe(`${base}/2`, (_, channel) => {
      got.push(channel);
    });
    await bus.publish(`${base}/2`, new Uint8Array([1]));
    await waitUntil(() => got.length === 1, "the message");
    await bus.publish(`${base}/1`, new Uint8Array([1]));
    await waitUntil(() => got.length === 2, "the second message");
    expect(got).toEqual([`${base}/2`, `${base}/1`]);
    await bus.close();
  });

  it("reconnects the listening connection after its backend is killed, and LISTENs again", async () => {
    const channelPrefix = prefix();
    const bus = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    const got: number[] = [];
    await bus.subscribe("wake", (message) => {
      got.push(message[0] ?? -1);
    });
    const listening = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
      [`LISTEN "${channelPrefix}wake"`],
    );
    expect(listening.rowCount).toBe(1);
    // Publish until the restored listener hears one: messages sent while it was down are lost.
    let sent = 0;
    await waitUntil(async () => {
      await bus.publish("wake", new Uint8Array([++sent]));
      return got.length > 0;
    }, "a message after the reconnect");
    await bus.close();
  });

  it("a second subscriber is not told it is live before the channel's LISTEN has run", async () => {
    const channelPrefix = prefix();
    const bus = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    const sender = createPostgresPubSub({ connectionString: postgresUrl, channelPrefix });
    // The listening connection is up before the race starts.
    await bus.subscribe("warm", () => undefined);
    // Hold the LISTEN of channel "race" on its way to the server until released.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const listenRace = `LISTEN "${channelPrefix}race"`;
    const query = pg.Client.prototype.query;
    const patched = function (this: pg.Client, ...args: unknown[]) {
      const call = () => (query as (...a: unknown[]) => unknown).apply(this, args);
      return args[0] === listenRace ? held.then(call) : call();
    };
    pg.Client.prototype.query = patched as typeof query;
    try {
      const got: string[] = [];
      const first = bus.subscribe("race", () => {
        got.push("first");
      });
      let secondLive = false;
      let publishedOnLive: Promise<void> | undefined;
      const second = bus
        .subscribe("race", () => {
          got.push("second");
        })
        .then(() => {
          secondLive = true;
          // The wake a consumer sends (or awaits) right after its subscription went live.
          publishedOnLive = sender.publish("race", new Uint8Array([1]));
        });
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(secondLive, "the second subscribe resolved while LISTEN was still held").toBe(false);
      release();
      await Promise.all([first, second]);
      await publishedOnLive;
      await waitUntil(() => got.length === 2, "the message published once both were live");
      expect(got.sort()).toEqual(["first", "second"]);
    } finally {
      pg.Client.prototype.query = query;
      release();
      await Promise.all([bus.close(), sender.close()]);
    }
  });
});
