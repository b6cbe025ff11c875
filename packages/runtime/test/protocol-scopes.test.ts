// Scoped tokens on the RESP and PostgreSQL-protocol servers of a running runtime: the same
// tokens as HTTP (minted over /api/tokens), each command refused without its scope (naming it)
// and accepted with it, actor calls and refusals in /api/audit with the token's name and the
// client's address, and a revocation reaching open connections within the token cache bound.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { Redis } from "ioredis";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Scope } from "../src/access/scopes.js";
import { createRuntime, parseRuntimeConfig, type Runtime } from "../src/index.js";

const ROOT = "tok-3e9a1c7f5b2d8e4a6c0f1b9d7e3a5c2f";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: { increment: (ctx, by: number) => (ctx.state.count += by) },
});

const runtimes: Runtime[] = [];
const cleanups: (() => unknown)[] = [];
const scratch: string[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-protocol-scopes-"));
  scratch.push(dir);
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
      server: { port: 0 },
      auth: { token: ROOT, tokenCacheMs: 50 },
      resp: { enabled: true, port: 0 },
      pgwire: { enabled: true, port: 0 },
    }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: { definitions: [Counter] },
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return {
    url,
    respPort: runtime.protocols?.resp?.port() ?? 0,
    pgPort: runtime.protocols?.pgwire?.port() ?? 0,
  };
}

async function api(url: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function mint(url: string, scopes: Scope[], name: string) {
  const created = (await api(url, "POST", "/api/tokens", { name, scopes })) as {
    token: string;
    info: { id: string };
  };
  return { token: created.token, id: created.info.id };
}

function redis(port: number, password: string): Redis {
  const client = new Redis({ port, password, maxRetriesPerRequest: 0 });
  cleanups.push(() => client.disconnect());
  return client;
}

async function postgres(port: number, password: string): Promise<pg.Client> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "svc", password });
  client.on("error", () => undefined);
  await client.connect();
  cleanups.push(() => client.end().catch(() => undefined));
  return client;
}

describe("scoped tokens on RESP and PG-wire", () => {
  it("refuses each command without its scope (naming it) and accepts it with the scope", async () => {
    const { url, respPort, pgPort } = await start();
    const reader = await mint(url, ["actors:read"], "reader");
    const caller = await mint(url, ["actors:call"], "caller");
    const sender = await mint(url, ["events:send"], "sender");
    const runsReader = await mint(url, ["runs:read"], "runs-reader");

    // RESP.
    const asReader = redis(respPort, reader.token);
    const asCaller = redis(respPort, caller.token);
    const asSender = redis(respPort, sender.token);
    await expect(asReader.set("k", "v")).rejects.toThrow(
      "NOPERM this token lacks the scope actors:call",
    );
    expect(await asCaller.set("k", "v")).toBe("OK");
    await expect(asCaller.get("k")).rejects.toThrow(
      "NOPERM this token lacks the scope actors:read",
    );
    expect(await asReader.get("k")).toBe("v");
    await expect(asReader.call("ACTOR.CALL", "Counter", "a", "increment", "[1]")).rejects.toThrow(
      "NOPERM this token lacks the scope actors:call",
    );
    expect(await asCaller.call("ACTOR.CALL", "Counter", "a", "increment", "[1]")).toBe("1");
    await expect(asCaller.call("EVENT.SEND", "app/x", "{}")).rejects.toThrow(
      "NOPERM this token lacks the scope events:send",
    );
    expect(await asSender.call("EVENT.SEND", "app/x", "{}")).toHaveLength(1);
    const rootClient = redis(respPort, ROOT);
    expect(await rootClient.get("k")).toBe("v");

    // PG-wire: the password is the token.
    const pgReader = await postgres(pgPort, reader.token);
    const pgRuns = await postgres(pgPort, runsReader.token);
    const pgCaller = await postgres(pgPort, caller.token);
    const pgSender = await postgres(pgPort, sender.token);
    await expect(pgReader.query("SELECT id FROM runs LIMIT 1")).rejects.toMatchObject({
      code: "42501",
      message: "permission denied: this token lacks the scope runs:read",
    });
    await pgRuns.query("SELECT id FROM runs LIMIT 1");
    await expect(pgRuns.query("SELECT key FROM actors LIMIT 1")).rejects.toThrow(
      "this token lacks the scope actors:read",
    );
    await pgReader.query("SELECT key FROM actors LIMIT 1");
    await expect(
      pgReader.query(`SELECT troupe.call_actor('Counter', 'a', 'increment', '[2]') AS r`),
    ).rejects.toThrow("this token lacks the scope actors:call");
    const called = await pgCaller.query(
      `SELECT troupe.call_actor('Counter', 'a', 'increment', '[2]') AS r`,
    );
    expect(called.rows).toEqual([{ r: 3 }]);
    await expect(pgCaller.query(`INSERT INTO events (name) VALUES ('app/y')`)).rejects.toThrow(
      "this token lacks the scope events:send",
    );
    const inserted = await pgSender.query(
      `INSERT INTO events (name) VALUES ('app/y') RETURNING id`,
    );
    expect(inserted.rows).toHaveLength(1);
    await expect(postgres(pgPort, "trp_aaaaaaaaaaaaaaaa_nope")).rejects.toMatchObject({
      code: "28P01",
    });
  });

  it("records actor calls and refusals in the audit log with the token's name and address", async () => {
    const { url, respPort, pgPort } = await start();
    const caller = await mint(url, ["actors:call"], "ops-bot");
    const resp = redis(respPort, caller.token);
    await resp.call("ACTOR.CALL", "Counter", "b", "increment", "[5]");
    await resp.set("plain", "1"); // a key write: not audited unless resp.auditWrites
    await expect(resp.call("EVENT.SEND", "app/z", "{}")).rejects.toThrow(/NOPERM/);
    const client = await postgres(pgPort, caller.token);
    await client.query(`SELECT troupe.call_actor('Counter', 'b', 'increment', '[1]')`);

    const rows = await waitFor(
      async () =>
        ((await api(url, "GET", "/api/audit?operation=*")) as { data: Record<string, unknown>[] })
          .data,
      (data) => data.filter((entry) => String(entry.operation).match(/^(RESP|PG) /)).length >= 3,
    );
    const protocol = rows
      .filter((entry) => String(entry.operation).match(/^(RESP|PG) /))
      .map(({ token, operation, target, status }) => ({ token, operation, target, status }));
    expect(protocol).toEqual([
      {
        token: "ops-bot",
        operation: "PG troupe.call_actor",
        target: "Counter/b/increment",
        status: 200,
      },
      { token: "ops-bot", operation: "RESP EVENT.SEND", target: "app/z", status: 403 },
      {
        token: "ops-bot",
        operation: "RESP ACTOR.CALL",
        target: "Counter/b/increment",
        status: 200,
      },
    ]);
    for (const entry of rows.filter((row) => String(row.operation).match(/^(RESP|PG) /))) {
      expect(entry.source).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1):\d+$/);
      expect(entry.tokenId).toBe(caller.id);
    }
  });

  it("a revoked token stops working on open RESP and PG-wire connections", async () => {
    const { url, respPort, pgPort } = await start();
    const holder = await mint(url, ["actors:read", "runs:read"], "soon-revoked");
    const resp = redis(respPort, holder.token);
    const client = await postgres(pgPort, holder.token);
    expect(await resp.get("x")).toBeNull();
    await client.query("SELECT id FROM runs LIMIT 1");
    await api(url, "DELETE", `/api/tokens/${holder.id}`);
    // Refused once the token cache (50 ms) and the connection's re-check (50 ms) have passed.
    const respRefused = await waitFor(
      () =>
        resp.get("x").then(
          () => "" as string,
          (error: Error) => error.message,
        ),
      (message) => message !== "",
    );
    expect(respRefused).toBe("NOAUTH Authentication required: the token is no longer valid.");
    const pgRefused = await waitFor(
      () =>
        client.query("SELECT id FROM runs LIMIT 1").then(
          () => "",
          (error: Error) => error.message,
        ),
      (message) => message !== "",
    );
    expect(pgRefused).toBe("the token is no longer valid");
  });
});

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await read();
    if (done(value) || attempt >= 200) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
