import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settleSaves, startServer } from "./support.js";

let running: Awaited<ReturnType<typeof startServer>>;
let redis: Redis;
const sent: [string, unknown][] = [];

beforeAll(async () => {
  running = await startServer({
    sendEvent: async (name, data) => {
      sent.push([name, data]);
      return [`event-${sent.length}`];
    },
  });
  redis = new Redis({ port: running.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
});

afterAll(async () => {
  redis.disconnect();
  await running.close();
});

describe("strings", () => {
  it("sets, gets and conditions on existence", async () => {
    expect(await redis.set("s:a", "hello")).toBe("OK");
    expect(await redis.get("s:a")).toBe("hello");
    expect(await redis.set("s:a", "x", "NX")).toBeNull();
    expect(await redis.set("s:missing", "x", "XX")).toBeNull();
    expect(await redis.set("s:a", "world", "GET")).toBe("hello");
    expect(await redis.get("s:a")).toBe("world");
    expect(await redis.get("s:none")).toBeNull();
    expect(await redis.strlen("s:a")).toBe(5);
    expect(await redis.append("s:a", "!")).toBe(6);
    expect(await redis.getdel("s:a")).toBe("world!");
    expect(await redis.exists("s:a")).toBe(0);
    expect(await redis.set("s:utf", "héllo")).toBe("OK");
    expect(await redis.strlen("s:utf")).toBe(6);
  });

  it("counts with INCR, INCRBY and DECR, and refuses non-integers", async () => {
    expect(await redis.incr("s:n")).toBe(1);
    expect(await redis.incrby("s:n", 41)).toBe(42);
    expect(await redis.decr("s:n")).toBe(41);
    expect(await redis.get("s:n")).toBe("41");
    await redis.set("s:text", "abc");
    await expect(redis.incr("s:text")).rejects.toThrow("ERR value is not an integer");
    await redis.set("s:max", "9223372036854775807");
    await expect(redis.incr("s:max")).rejects.toThrow("overflow");
  });

  it("reads and writes several keys with MGET and MSET", async () => {
    expect(await redis.mset("m:1", "a", "m:2", "b")).toBe("OK");
    await redis.hset("m:h", "f", "v");
    expect(await redis.mget("m:1", "m:2", "m:3", "m:h")).toEqual(["a", "b", null, null]);
  });
});

describe("keys", () => {
  it("deletes and counts several keys, and names their types", async () => {
    await redis.mset("k:1", "a", "k:2", "b");
    await redis.rpush("k:l", "x");
    expect(await redis.exists("k:1", "k:2", "k:3")).toBe(2);
    expect(await redis.type("k:l")).toBe("list");
    expect(await redis.type("k:1")).toBe("string");
    expect(await redis.type("k:none")).toBe("none");
    expect(await redis.del("k:1", "k:2", "k:3")).toBe(2);
    expect(await redis.exists("k:1")).toBe(0);
  });

  it("sets, reads and removes expiry", async () => {
    await redis.set("e:1", "v", "EX", 100);
    expect(await redis.ttl("e:1")).toBe(100);
    const pttl = await redis.pttl("e:1");
    expect(pttl).toBeGreaterThan(99_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    expect(await redis.persist("e:1")).toBe(1);
    expect(await redis.ttl("e:1")).toBe(-1);
    expect(await redis.ttl("e:none")).toBe(-2);
    expect(await redis.expire("e:1", 50)).toBe(1);
    expect(await redis.pexpire("e:1", 60_000, "GT")).toBe(1);
    expect(await redis.pexpire("e:1", 1000, "GT")).toBe(0);
    expect(await redis.expire("e:none", 10)).toBe(0);
    expect(await redis.set("e:2", "v", "PX", 30)).toBe("OK");
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await redis.get("e:2")).toBeNull();
    expect(await redis.exists("e:2")).toBe(0);
    await expect(redis.set("e:3", "v", "EX", 0)).rejects.toThrow("invalid expire time");
  });

  it("scans every live key with MATCH and COUNT, leaving out deleted ones", async () => {
    const names = Array.from({ length: 25 }, (_, index) => `scan:${index}`);
    for (const name of names) await redis.set(name, "v");
    await redis.set("other:1", "v");
    await redis.del("scan:3");
    await settleSaves();
    const seen = new Set<string>();
    let cursor = "0";
    let rounds = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "scan:*", "COUNT", 5);
      for (const key of keys) seen.add(key);
      cursor = next;
      rounds++;
    } while (cursor !== "0" && rounds < 100);
    expect([...seen].sort()).toEqual(names.filter((name) => name !== "scan:3").sort());
    const [, lists] = await redis.scan("0", "COUNT", 1000, "TYPE", "list");
    expect(lists).toContain("k:l");
    expect(lists).not.toContain("other:1");
    await expect(redis.scan("77777")).rejects.toThrow("invalid cursor");
  });
});

describe("hashes, lists and sets", () => {
  it("works with hash fields", async () => {
    expect(await redis.hset("h:1", "a", "1", "b", "2")).toBe(2);
    expect(await redis.hset("h:1", "a", "3", "__proto__", "p")).toBe(1);
    expect(await redis.hget("h:1", "a")).toBe("3");
    expect(await redis.hget("h:1", "__proto__")).toBe("p");
    expect(await redis.hmget("h:1", "a", "zz", "b")).toEqual(["3", null, "2"]);
    expect(await redis.hgetall("h:1")).toEqual({ a: "3", b: "2", ["__proto__"]: "p" });
    expect(await redis.hincrby("h:1", "b", 10)).toBe(12);
    expect(await redis.hlen("h:1")).toBe(3);
    expect(await redis.hdel("h:1", "a", "b", "__proto__", "zz")).toBe(3);
    expect(await redis.exists("h:1")).toBe(0);
    await redis.set("h:str", "v");
    await expect(redis.hget("h:str", "a")).rejects.toThrow("WRONGTYPE");
  });

  it("pushes, pops and ranges over lists", async () => {
    expect(await redis.lpush("l:1", "a", "b")).toBe(2);
    expect(await redis.rpush("l:1", "c", "d")).toBe(4);
    expect(await redis.lrange("l:1", 0, -1)).toEqual(["b", "a", "c", "d"]);
    expect(await redis.lrange("l:1", -2, 10)).toEqual(["c", "d"]);
    expect(await redis.llen("l:1")).toBe(4);
    expect(await redis.lpop("l:1")).toBe("b");
    expect(await redis.rpop("l:1")).toBe("d");
    expect(await redis.rpop("l:1", 5)).toEqual(["c", "a"]);
    expect(await redis.exists("l:1")).toBe(0);
    expect(await redis.lpop("l:1")).toBeNull();
  });

  it("adds, removes and tests set members", async () => {
    expect(await redis.sadd("set:1", "a", "b", "a")).toBe(2);
    expect((await redis.smembers("set:1")).sort()).toEqual(["a", "b"]);
    expect(await redis.sismember("set:1", "a")).toBe(1);
    expect(await redis.sismember("set:1", "z")).toBe(0);
    expect(await redis.scard("set:1")).toBe(2);
    expect(await redis.srem("set:1", "a", "z")).toBe(1);
    expect(await redis.srem("set:1", "b")).toBe(1);
    expect(await redis.exists("set:1")).toBe(0);
  });
});

describe("connection, transactions, pipelining", () => {
  it("answers connection commands", async () => {
    expect(await redis.ping()).toBe("PONG");
    expect(await redis.echo("hi")).toBe("hi");
    expect(await redis.select(0)).toBe("OK");
    await expect(redis.select(1)).rejects.toThrow("DB index is out of range");
    expect(await redis.client("SETNAME", "worker-1")).toBe("OK");
    expect(await redis.client("GETNAME")).toBe("worker-1");
    await expect(redis.call("NOSUCH", "a")).rejects.toThrow("unknown command 'NOSUCH'");
    await expect(redis.call("GET")).rejects.toThrow("wrong number of arguments for 'get'");
    const info = await redis.info();
    expect(info).toContain("redis_version:");
    expect(info).toContain("loading:0");
  });

  it("runs MULTI/EXEC on one key in one turn, and refuses several keys", async () => {
    const result = await redis.multi().set("tx:1", "5").incr("tx:1").get("tx:1").exec();
    expect(result).toEqual([
      [null, "OK"],
      [null, 6],
      [null, "6"],
    ]);
    await expect(redis.multi().set("tx:a", "1").set("tx:b", "2").exec()).rejects.toThrow("one key");
  });

  it("answers a pipeline of 2,000 commands in order", async () => {
    const pipeline = redis.pipeline();
    for (let index = 0; index < 1000; index++) {
      pipeline.incr("p:counter");
      pipeline.get("p:counter");
    }
    const results = await pipeline.exec();
    expect(results).toHaveLength(2000);
    for (let index = 0; index < 1000; index++) {
      expect(results?.[index * 2]?.[1]).toBe(index + 1);
      expect(results?.[index * 2 + 1]?.[1]).toBe(String(index + 1));
    }
  });
});

describe("pub/sub", () => {
  it("delivers messages to channel and pattern subscribers", async () => {
    const subscriber = new Redis({ port: running.port });
    try {
      const received: string[] = [];
      subscriber.on("message", (channel, message) => received.push(`${channel}=${message}`));
      subscriber.on("pmessage", (pattern, channel, message) =>
        received.push(`${pattern}:${channel}=${message}`),
      );
      expect(await subscriber.subscribe("news")).toBe(1);
      expect(await subscriber.psubscribe("n*")).toBe(2);
      expect(await redis.publish("news", "hello")).toBe(2);
      expect(await redis.publish("nope", "x")).toBe(1);
      expect(await redis.publish("other", "x")).toBe(0);
      await expect.poll(() => received.length).toBe(3);
      expect(received.sort()).toEqual(["n*:news=hello", "n*:nope=x", "news=hello"].sort());
      await subscriber.unsubscribe("news");
      expect(await redis.publish("news", "again")).toBe(1);
    } finally {
      subscriber.disconnect();
    }
  });
});

describe("Troupe commands", () => {
  it("calls an actor with ACTOR.CALL", async () => {
    expect(await redis.call("ACTOR.CALL", "Counter", "c1", "add", "[5]")).toBe("5");
    expect(await redis.call("ACTOR.CALL", "Counter", "c1", "add", "2")).toBe("7");
    expect(await redis.call("ACTOR.CALL", "Counter", "c1", "get")).toBe("7");
    await expect(redis.call("ACTOR.CALL", "Counter", "c1", "add", '["x"]')).rejects.toThrow(
      "INVALID_ARGUMENT",
    );
    await expect(redis.call("ACTOR.CALL", "Nope", "c1", "get")).rejects.toThrow("ERR");
  });

  it("sends an event with EVENT.SEND", async () => {
    expect(await redis.call("EVENT.SEND", "app/signup", '{"user":"ada"}')).toEqual(["event-1"]);
    expect(sent).toEqual([["app/signup", { user: "ada" }]]);
    await expect(redis.call("EVENT.SEND", "app/x", "{nope")).rejects.toThrow("must be JSON");
  });
});
