// Scoped tokens on the RESP server, through ioredis: AUTH checks the token, each command needs
// its scope (NOPERM naming it otherwise), mutating commands and refusals reach the audit hook
// with the token's name and the client's address, and a revoked token stops working on an open
// connection at its next check.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { ProtocolAuditEntry, ProtocolPrincipal, RespAccess } from "../src/index.js";
import { rawClient } from "./raw-client.js";
import { startServer } from "./support.js";

const TOKENS: Record<string, ProtocolPrincipal> = {
  "tok-read": { name: "reader", scopes: ["actors:read"] },
  "tok-call": { name: "caller", scopes: ["actors:call"] },
  "tok-event": { name: "sender", scopes: ["events:send"] },
  "tok-admin": { name: "root", scopes: ["admin"] },
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function secured(recheckMs = 100) {
  const live = new Map(Object.entries(TOKENS));
  const audit: ProtocolAuditEntry[] = [];
  const users: (string | undefined)[] = [];
  const access: RespAccess = {
    authenticate: async (password, user) => {
      users.push(user);
      return live.get(password);
    },
    audit: (entry) => audit.push(entry),
    recheckMs,
  };
  const sent: [string, unknown][] = [];
  const running = await startServer({
    access,
    sendEvent: async (name, data) => {
      sent.push([name, data]);
      return ["01JEVENT"];
    },
  });
  cleanups.push(() => running.close());
  const connect = (password: string) => {
    const redis = new Redis({
      port: running.port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    cleanups.push(async () => redis.disconnect());
    return redis;
  };
  return { running, live, audit, users, sent, connect };
}

describe("RESP scoped tokens", () => {
  it("refuses a command whose scope the token lacks (naming it) and accepts it with the scope", async () => {
    const { connect } = await secured();
    const probes: { scope: string; token: string; run: (redis: Redis) => Promise<unknown> }[] = [
      { scope: "actors:read", token: "tok-read", run: (redis) => redis.get("k") },
      { scope: "actors:read", token: "tok-read", run: (redis) => redis.scan("0") },
      { scope: "actors:call", token: "tok-call", run: (redis) => redis.set("k", "v") },
      { scope: "actors:call", token: "tok-call", run: (redis) => redis.del("k") },
      {
        scope: "actors:call",
        token: "tok-call",
        run: (redis) => redis.call("ACTOR.CALL", "Counter", "c", "add", "[2]"),
      },
      { scope: "actors:call", token: "tok-call", run: (redis) => redis.publish("ch", "hi") },
      {
        scope: "events:send",
        token: "tok-event",
        run: (redis) => redis.call("EVENT.SEND", "app/x", '{"a":1}'),
      },
    ];
    for (const probe of probes) {
      const stranger = Object.keys(TOKENS).find(
        (token) => token !== probe.token && token !== "tok-admin",
      ) as string;
      const refused = connect(stranger);
      await refused.connect();
      await expect(probe.run(refused), `${probe.scope} refused`).rejects.toThrow(
        `NOPERM this token lacks the scope ${probe.scope}`,
      );
      const holder = connect(probe.token);
      await holder.connect();
      await expect(probe.run(holder), `${probe.scope} accepted`).resolves.toBeDefined();
      // Connection commands need no scope.
      expect(await refused.ping()).toBe("PONG");
    }
    const admin = connect("tok-admin");
    await admin.connect();
    expect(await admin.call("ACTOR.CALL", "Counter", "c", "get")).toBe("2");
  });

  it("refuses a bad token, accepts AUTH <user> <token>, and audits what changes", async () => {
    const { running, audit, users, sent, connect } = await secured();
    const bad = new Redis({ port: running.port, lazyConnect: true, enableReadyCheck: false });
    cleanups.push(async () => bad.disconnect());
    await bad.connect();
    await expect(bad.auth("tok-nope")).rejects.toThrow(/WRONGPASS/);
    await expect(bad.get("k")).rejects.toThrow(/NOAUTH/);

    const raw = await rawClient(running.port);
    cleanups.push(async () => raw.close());
    // Pipelined: the SET waits for the AUTH in front of it.
    raw.send(
      "*3\r\n$4\r\nAUTH\r\n$3\r\nops\r\n$8\r\ntok-call\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
    );
    const replies = await raw.until((text) => text.split("\r\n").length > 3);
    expect(replies).toBe(
      "+OK\r\n+OK\r\n-NOPERM this token lacks the scope actors:read (needed by 'get')\r\n",
    );
    expect(users).toContain("ops");

    const sender = connect("tok-event");
    await sender.connect();
    expect(await sender.call("EVENT.SEND", "app/ping", '{"n":1}')).toEqual(["01JEVENT"]);
    await expect(sender.set("b", "2")).rejects.toThrow(/NOPERM/);
    expect(sent).toEqual([["app/ping", { n: 1 }]]);

    const rows = audit.map(({ principal, operation, target, status }) => ({
      token: principal?.name,
      operation,
      target,
      status,
    }));
    expect(rows).toEqual([
      { token: undefined, operation: "RESP AUTH", target: "default", status: 401 },
      { token: "caller", operation: "RESP SET", target: "a", status: 200 },
      { token: "sender", operation: "RESP EVENT.SEND", target: "app/ping", status: 200 },
      { token: "sender", operation: "RESP SET", target: "b", status: 403 },
    ]);
    expect(
      audit.every((entry) => /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1):\d+$/.test(entry.source)),
    ).toBe(true);
  });

  it("ends an open connection's rights once its token is revoked", async () => {
    const { live, connect } = await secured(0);
    const redis = connect("tok-call");
    await redis.connect();
    expect(await redis.set("r", "1")).toBe("OK");
    live.delete("tok-call");
    await expect(redis.set("r", "2")).rejects.toThrow(
      "NOAUTH Authentication required: the token is no longer valid.",
    );
    await expect(redis.set("r", "3")).rejects.toThrow(/NOAUTH/);
  });

  it("aborts a transaction holding a command the token may not run", async () => {
    const { connect } = await secured();
    const redis = connect("tok-read");
    await redis.connect();
    const result = redis.multi().get("m").set("m", "1").exec();
    await expect(result).rejects.toThrow(/EXECABORT/);
  });
});
