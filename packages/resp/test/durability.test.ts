import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createActorSystem } from "@troupe/actors";
import {
  createMemoryQueue,
  createMemoryStore,
  fromUtf8,
  ManualClock,
  systemClock,
} from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createRespServer, defineRespKeyActor } from "../src/index.js";
import { startServer, TestKey } from "./support.js";

const dir = mkdtempSync(path.join(tmpdir(), "troupe-resp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("durability", () => {
  it("keeps every key type in SQLite across a restart", async () => {
    const file = path.join(dir, "restart.db");
    const open = () =>
      startServer({
        store: createSqliteStore({ path: file }),
        queue: createSqliteQueue({ path: file, queueName: "actors", clock: systemClock }),
      });
    const first = await open();
    const redis = new Redis({ port: first.port });
    await redis.set("d:s", "text");
    await redis.hset("d:h", "f", "v");
    await redis.rpush("d:l", "a", "b");
    await redis.sadd("d:set", "m");
    await redis.set("d:ttl", "v", "EX", 1000);
    redis.disconnect();
    await first.close();
    await first.store.close();

    const second = await open();
    const again = new Redis({ port: second.port });
    try {
      expect(await again.get("d:s")).toBe("text");
      expect(await again.hgetall("d:h")).toEqual({ f: "v" });
      expect(await again.lrange("d:l", 0, -1)).toEqual(["a", "b"]);
      expect(await again.smembers("d:set")).toEqual(["m"]);
      expect(await again.ttl("d:ttl")).toBeGreaterThan(990);
      const [, keys] = await again.scan("0", "MATCH", "d:*", "COUNT", 100);
      expect(keys.sort()).toEqual(["d:h", "d:l", "d:s", "d:set", "d:ttl"]);
    } finally {
      again.disconnect();
      await second.close();
      await second.store.close();
    }
  });

  it("expires a key at its exact time and frees its stored value with a reminder", async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const system = createActorSystem({
      store,
      queue: createMemoryQueue({ clock }),
      actors: [TestKey],
      clock,
      reminderPollMs: 100,
    });
    try {
      const key = system.get(TestKey, "soon");
      expect(await key.run("SET", ["v", "PX", "1000"])).toEqual({ simple: "OK" });
      await clock.advance(999);
      expect(await key.read("GET", [])).toBe("v");
      expect(await key.read("PTTL", [])).toBe(1);
      await clock.advance(1);
      expect(await key.read("GET", [])).toBeNull();
      expect(await key.read("TTL", [])).toBe(-2);
      await clock.advance(500);
      const stored = await store.get("actors/state/RespKey/soon");
      expect(stored && JSON.parse(fromUtf8(stored.value))).toEqual({ t: "none" });
    } finally {
      await system.close();
    }
  });

  it("scans keys written or deleted here before their state is saved", async () => {
    const SlowKey = defineRespKeyActor({ saveDelayMs: 60_000 });
    const store = createMemoryStore();
    const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [SlowKey] });
    const server = createRespServer({ system, store, keyActor: SlowKey });
    const redis = new Redis({ port: await server.listen(0) });
    try {
      await redis.set("fresh:1", "v");
      await redis.set("fresh:2", "v");
      expect(await store.get("actors/state/RespKey/fresh:1")).toBeUndefined();
      expect((await redis.scan("0", "COUNT", 100))[1]).toEqual(["fresh:1", "fresh:2"]);
      await system.close();
      const restarted = createActorSystem({ store, queue: createMemoryQueue(), actors: [SlowKey] });
      const again = createRespServer({ system: restarted, store, keyActor: SlowKey });
      const second = new Redis({ port: await again.listen(0) });
      await second.del("fresh:1");
      expect((await second.scan("0", "COUNT", 100))[1]).toEqual(["fresh:2"]);
      second.disconnect();
      await again.close();
      await restarted.close();
    } finally {
      redis.disconnect();
      await server.close();
      await system.close();
    }
  });
});
