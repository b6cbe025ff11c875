import { join } from "node:path";
import { fromUtf8, ManualClock, type PubSub, utf8 } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempDir } from "../test/temp-files.js";
import { openSqliteDatabase, type SqliteDatabase } from "./database.js";
import { createSqlitePubSub, type SqlitePubSubOptions } from "./sqlite-pubsub.js";

// Real-time polling is this adapter's mechanism, so these tests wait for delivery (bounded).
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 5) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("createSqlitePubSub", () => {
  let temp: ReturnType<typeof createTempDir>;
  let path: string;
  const opened: PubSub[] = [];
  const open = (options: Partial<SqlitePubSubOptions> = {}) => {
    const pubsub = createSqlitePubSub({
      path,
      pollIntervalMs: 5,
      ...options,
    } as SqlitePubSubOptions);
    opened.push(pubsub);
    return pubsub;
  };

  beforeEach(() => {
    temp = createTempDir("pubsub");
    path = join(temp.dir, "troupe.db");
  });
  afterEach(async () => {
    for (const pubsub of opened.splice(0)) await pubsub.close();
    temp.remove();
  });

  it("delivers through the file, in order, when in-process delivery is off", async () => {
    const publisher = open({ inProcessDelivery: false });
    const subscriber = open({ inProcessDelivery: false });
    const received: string[] = [];
    await subscriber.subscribe("wake", (message) => {
      received.push(fromUtf8(message));
    });
    for (let index = 0; index < 50; index++) await publisher.publish("wake", utf8(`m${index}`));
    await publisher.publish("other", utf8("not for us"));
    await waitUntil(() => received.length >= 50, "50 messages");
    expect(received).toEqual(Array.from({ length: 50 }, (_, index) => `m${index}`));
  });

  it("delivers a message once when both the poller and in-process delivery see it", async () => {
    const database = openSqliteDatabase(join(temp.dir, "shared.db"));
    const publisher = createSqlitePubSub({ database, pollIntervalMs: 5 });
    const subscriber = createSqlitePubSub({ path: database.name, pollIntervalMs: 5 });
    opened.push(publisher, subscriber);
    const received: string[] = [];
    await subscriber.subscribe("c", (message) => {
      received.push(fromUtf8(message));
    });
    await publisher.publish("c", utf8("one"));
    await publisher.publish("c", utf8("two"));
    await waitUntil(() => received.length >= 2, "two messages");
    // Give the poller several rounds to (wrongly) deliver the same rows again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual(["one", "two"]);
    await publisher.close();
    await subscriber.close();
    database.close();
  });

  it("does not deliver messages published before the subscription", async () => {
    const publisher = open({ inProcessDelivery: false });
    const subscriber = open({ inProcessDelivery: false });
    await publisher.publish("c", utf8("early"));
    const received: string[] = [];
    await subscriber.subscribe("c", (message) => {
      received.push(fromUtf8(message));
    });
    await publisher.publish("c", utf8("late"));
    await waitUntil(() => received.length >= 1, "one message");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(received).toEqual(["late"]);
  });

  it("prunes messages older than the retention window", async () => {
    const clock = new ManualClock();
    const database = openSqliteDatabase(join(temp.dir, "prune.db"));
    const pubsub = createSqlitePubSub({ database, clock, retentionMs: 1000 });
    opened.push(pubsub);
    await pubsub.publish("c", utf8("old"));
    clock.set(clock.now() + 5000);
    await pubsub.publish("c", utf8("new"));
    const rows = database.prepare("SELECT payload FROM troupe_messages").all() as {
      payload: Buffer;
    }[];
    expect(rows.map((row) => row.payload.toString())).toEqual(["new"]);
    await pubsub.close();
    database.close();
  });

  it("a message another connection commits while subscribe reads its starting point is delivered", async () => {
    const file = join(temp.dir, "race.db");
    const database = openSqliteDatabase(file);
    // Another connection on the file, as another process would have.
    const publisher = createSqlitePubSub({ path: file, inProcessDelivery: false });
    let insideCheck: (() => void) | undefined;
    // Run `insideCheck` right after the subscriber reads the newest message's seq (its "check").
    const prepare = database.prepare.bind(database);
    database.prepare = ((source: string) => {
      const statement = prepare(source);
      if (!source.includes("max(seq)")) return statement;
      const get = statement.get.bind(statement);
      statement.get = ((...args: unknown[]) => {
        const value = (get as (...a: unknown[]) => unknown)(...args);
        const hook = insideCheck;
        insideCheck = undefined;
        hook?.();
        return value;
      }) as typeof statement.get;
      return statement;
    }) as SqliteDatabase["prepare"];
    const subscriber = createSqlitePubSub({
      database,
      pollIntervalMs: 5,
      inProcessDelivery: false,
    });
    opened.push(publisher, subscriber);
    const received: string[] = [];
    // publish() inserts synchronously, so the message is committed inside the check.
    insideCheck = () => void publisher.publish("wake", utf8("inside"));
    await subscriber.subscribe("wake", (message) => {
      received.push(fromUtf8(message));
    });
    expect(insideCheck, "the hook ran").toBeUndefined();
    // Nothing else is written: the poller alone must find the message.
    await waitUntil(() => received.length === 1, "the message committed inside the check");
    expect(received).toEqual(["inside"]);
    await subscriber.close();
    database.close();
  });

  it("messages published in one synchronous stretch are committed together, in one WAL commit", async () => {
    const database = openSqliteDatabase(join(temp.dir, "batched.db"));
    const publisher = createSqlitePubSub({ database, pollIntervalMs: 5 });
    opened.push(publisher);
    const received: string[] = [];
    await publisher.subscribe("burst", (message) => {
      received.push(fromUtf8(message));
    });
    database.pragma("wal_checkpoint(TRUNCATE)");
    await Promise.all(
      Array.from({ length: 200 }, (_, index) => publisher.publish("burst", utf8(`m${index}`))),
    );
    // [busy, frames in the WAL, frames checkpointed]: one commit of 200 small rows writes a few
    // pages; 200 commits would write at least one page (and frame) each.
    const [{ log }] = database.pragma("wal_checkpoint(PASSIVE)") as [{ log: number }];
    expect(log).toBeLessThan(20);
    await waitUntil(() => received.length === 200, "200 messages");
    expect(received).toEqual(Array.from({ length: 200 }, (_, index) => `m${index}`));
    await publisher.close();
    database.close();
  });
});
