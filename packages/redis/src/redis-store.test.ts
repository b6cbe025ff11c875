import { StoreConflictError, TroupeError, utf8 } from "@troupe/core";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { connectOrFail, openAdminClient, redisUrl, useScratchPrefixes } from "../test/redis-env.js";
import { troupeRedisOptions } from "./connection.js";
import { createRedisQueue } from "./redis-queue.js";
import { createRedisStore, redisStoreKeys } from "./redis-store.js";

const freshPrefix = useScratchPrefixes("store");

async function expectInvalid(run: () => unknown, field: string): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(TroupeError.isInstance(caught, "INVALID_ARGUMENT"), String(caught)).toBe(true);
  expect((caught as TroupeError).details.field).toBe(field);
}

describe("createRedisStore options", () => {
  it("needs exactly one of url or client", async () => {
    await expectInvalid(() => createRedisStore({}), "createRedisStore.url");
    const client = new Redis(redisUrl, { ...troupeRedisOptions, lazyConnect: true });
    await expectInvalid(() => createRedisStore({ url: redisUrl, client }), "createRedisStore.url");
    client.disconnect();
  });

  it("rejects a URL of another scheme, an empty hash tag in the prefix, and a bad queue name", async () => {
    await expectInvalid(
      () => createRedisStore({ url: "http://localhost" }),
      "createRedisStore.url",
    );
    await expectInvalid(
      () => createRedisStore({ url: redisUrl, prefix: "app{}:" }),
      "createRedisStore.prefix",
    );
    await expectInvalid(
      () => createRedisQueue({ url: redisUrl, queueName: "has space" }),
      "createRedisQueue.queueName",
    );
  });

  it("refuses a client that would resend in-flight commands after a reconnect", async () => {
    const client = new Redis(redisUrl, { lazyConnect: true });
    await expectInvalid(() => createRedisStore({ client }), "createRedisStore.client");
    client.disconnect();
  });
});

describe("redis store", () => {
  it("fails with UNAVAILABLE (not a hang) when Redis is unreachable", async () => {
    const store = createRedisStore({ url: "redis://127.0.0.1:1" });
    try {
      for (const run of [
        () => store.get("a"),
        () => store.commit([{ type: "set", key: "a", value: utf8("x") }]),
      ]) {
        let caught: unknown;
        try {
          await run();
        } catch (error) {
          caught = error;
        }
        expect(TroupeError.isInstance(caught, "UNAVAILABLE"), String(caught)).toBe(true);
        expect((caught as TroupeError).cause).toBeInstanceOf(Error);
        expect((caught as TroupeError).message).toContain("127.0.0.1:1");
      }
    } finally {
      await store.close();
    }
  });

  it("keeps every key under one hash tag, with the index holding raw UTF-8 key bytes at score 0", async () => {
    const prefix = freshPrefix();
    const store = createRedisStore({ url: redisUrl, prefix });
    const admin = openAdminClient();
    await connectOrFail(admin);
    try {
      await store.commit([
        { type: "set", key: "é", value: new Uint8Array([0, 255, 10]) },
        { type: "set", key: "😀", value: new Uint8Array() },
      ]);
      const keys = redisStoreKeys(prefix);
      const stored = (await admin.keys(`${prefix}*`)).sort();
      expect(stored).toEqual([keys.counter, keys.index, keys.values, keys.versions].sort());
      for (const key of stored) expect(key.startsWith(`${prefix}{store}:`)).toBe(true);
      const index = await admin.zrangeBuffer(keys.index, 0, -1, "WITHSCORES");
      expect(index.map((part) => part.toString("hex"))).toEqual([
        Buffer.from("é").toString("hex"),
        "30",
        Buffer.from("😀").toString("hex"),
        "30",
      ]);
      expect(await admin.hgetBuffer(keys.values, "é")).toEqual(Buffer.from([0, 255, 10]));
    } finally {
      await store.close();
      await admin.quit();
    }
  });

  it("reports the conflicting key with its actual version, writing nothing", async () => {
    const store = createRedisStore({ url: redisUrl, prefix: freshPrefix() });
    try {
      const { version } = await store.commit([{ type: "set", key: "a", value: utf8("1") }]);
      let caught: unknown;
      try {
        await store.commit([
          { type: "set", key: "b", value: utf8("2") },
          { type: "check", key: "a", expect: version + 7 },
        ]);
      } catch (error) {
        caught = error;
      }
      expect(StoreConflictError.isInstance(caught)).toBe(true);
      expect(caught).toMatchObject({ key: "a", expected: version + 7, actual: version });
      expect(await store.get("b")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("handles commits, getMany and list of thousands of keys in one script each", async () => {
    const store = createRedisStore({ url: redisUrl, prefix: freshPrefix() });
    try {
      const keys = Array.from({ length: 3000 }, (_, index) => `k${String(index).padStart(5, "0")}`);
      const { version } = await store.commit(
        keys.map((key) => ({ type: "set", key, value: utf8(key) })),
      );
      const many = await store.getMany(keys);
      expect(
        many.every((entry, index) => entry?.version === version && entry.key === keys[index]),
      ).toBe(true);
      const listed = await store.list({ prefix: "k0" });
      expect(listed.map((entry) => entry.key)).toEqual(keys.filter((key) => key.startsWith("k0")));
      expect((await store.list({ reverse: true, limit: 2 })).map((entry) => entry.key)).toEqual([
        "k02999",
        "k02998",
      ]);
    } finally {
      await store.close();
    }
  });

  it("uses a client it was given, and leaves it open on close", async () => {
    const client = new Redis(redisUrl, troupeRedisOptions);
    const store = createRedisStore({ client, prefix: freshPrefix() });
    try {
      await store.commit([{ type: "set", key: "a", value: utf8("x") }]);
      await store.close();
      expect(await client.ping()).toBe("PONG");
      await expect(store.get("a")).rejects.toMatchObject({ code: "CLOSED" });
    } finally {
      await client.quit();
    }
  });
});
