// Scoped tokens and the audit log on a running server: every guarded route refuses a token
// without its scope (403 naming the scope) and accepts one with it; a revocation made by one
// runtime reaches another sharing the Store within the cache bound; mutating routes are audited.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { ManualClock, noopLogger } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { SCOPES, type Scope } from "../src/access/scopes.js";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const ROOT = "tok-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

const runtimes: Runtime[] = [];
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(storageUrl = "memory:", clock = new ManualClock(1_700_000_000_000)) {
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: storageUrl },
      server: { port: 0 },
      auth: { token: ROOT },
      audit: { events: true },
    }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      clock,
      actors: { definitions: [Counter] },
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url, clock };
}

async function call(url: string, method: string, route: string, token?: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(method === "GET" ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.includes("json") === true;
  return { status: response.status, body: isJson && text ? (JSON.parse(text) as unknown) : text };
}

async function mint(
  url: string,
  scopes: Scope[],
  name = "svc",
): Promise<{ token: string; id: string }> {
  const created = await call(url, "POST", "/api/tokens", ROOT, { name, scopes });
  expect(created.status).toBe(201);
  const body = created.body as { token: string; info: { id: string } };
  return { token: body.token, id: body.info.id };
}

// One request per scope: what it needs, and a request that needs something else.
const PROBES: readonly { scope: Scope; method: string; route: string; body?: unknown }[] = [
  { scope: "runs:read", method: "GET", route: "/api/runs" },
  { scope: "runs:write", method: "POST", route: "/api/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ/cancel" },
  { scope: "events:send", method: "POST", route: "/api/events", body: { name: "app/x", data: {} } },
  {
    scope: "actors:call",
    method: "POST",
    route: "/actors/Counter/a/increment",
    body: { args: [1] },
  },
  { scope: "actors:read", method: "GET", route: "/api/actors" },
  { scope: "stats:read", method: "POST", route: "/api/stats/resolve", body: {} },
  { scope: "metrics:read", method: "GET", route: "/metrics" },
  { scope: "admin", method: "GET", route: "/api/audit" },
];

describe("scoped tokens", () => {
  it("each route refuses a token without its scope (403 naming it) and accepts one with it", async () => {
    const { url } = await start();
    for (const probe of PROBES) {
      const holder = await mint(url, [probe.scope], `only-${probe.scope.replace(":", "-")}`);
      const other = SCOPES.find((scope) => scope !== probe.scope && scope !== "admin") as Scope;
      const stranger = await mint(url, [other], `not-${probe.scope.replace(":", "-")}`);
      const refused = await call(url, probe.method, probe.route, stranger.token, probe.body);
      expect(refused, `${probe.method} ${probe.route} with ${other}`).toMatchObject({
        status: 403,
        body: {
          scope: probe.scope,
          message: `Forbidden: this token lacks the scope ${probe.scope}`,
        },
      });
      const accepted = await call(url, probe.method, probe.route, holder.token, probe.body);
      expect([401, 403], `${probe.method} ${probe.route} with ${probe.scope}`).not.toContain(
        accepted.status,
      );
    }
  });

  it("refuses a missing, malformed or unknown token with 401, and only admin manages tokens", async () => {
    const { url } = await start();
    expect((await call(url, "GET", "/api/runs")).status).toBe(401);
    expect((await call(url, "GET", "/api/runs", "trp_nope")).status).toBe(401);
    expect(
      (await call(url, "GET", "/api/runs", `trp_${"a".repeat(16)}_${"b".repeat(43)}`)).status,
    ).toBe(401);
    const reader = await mint(url, ["runs:read"]);
    expect(
      await call(url, "POST", "/api/tokens", reader.token, { name: "x", scopes: ["admin"] }),
    ).toMatchObject({
      status: 403,
      body: { scope: "admin" },
    });
    const admin = await mint(url, ["admin"], "second-admin");
    expect((await call(url, "GET", "/api/tokens", admin.token)).status).toBe(200);
  });

  it("names the field of a bad token request and stores nothing", async () => {
    const { url } = await start();
    const bad = await call(url, "POST", "/api/tokens", ROOT, {
      name: "ok",
      scopes: ["runs:delete"],
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("scopes.0");
    const list = await call(url, "GET", "/api/tokens", ROOT);
    expect((list.body as { data: unknown[] }).data).toEqual([]);
  });

  it("a token revoked on one runtime is refused by another on the same Store within the cache bound", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-tokens-"));
    scratch.push(dir);
    const storage = `sqlite:${path.join(dir, "troupe.db")}`;
    const clock = new ManualClock(1_700_000_000_000);
    const a = await start(storage, clock);
    const b = await start(storage, clock);
    const { token, id } = await mint(a.url, ["runs:read"]);
    expect((await call(b.url, "GET", "/api/runs", token)).status).toBe(200); // cached on b now
    expect((await call(a.url, "DELETE", `/api/tokens/${id}`, ROOT)).status).toBe(200);
    expect((await call(a.url, "GET", "/api/runs", token)).status).toBe(401);
    await clock.advance(1000);
    expect((await call(b.url, "GET", "/api/runs", token)).status).toBe(401);
  });
});

describe("audit log", () => {
  it("records each mutating request with token name, source, operation, target and status", async () => {
    const { url } = await start();
    const ops = await mint(url, ["runs:write", "actors:call", "events:send"], "ops-bot");
    await call(url, "POST", "/actors/Counter/a/increment", ops.token, { args: [2] });
    await call(url, "POST", "/api/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ/cancel", ops.token);
    await call(url, "POST", "/api/events", ops.token, { name: "app/x", data: {} });
    await call(url, "POST", "/api/apps/sync", ops.token, { url: "http://127.0.0.1:1/api/inngest" });
    await call(url, "GET", "/api/runs", ops.token); // a read: not audited
    const audit = await call(url, "GET", "/api/audit", ROOT);
    const entries = (audit.body as { data: Record<string, unknown>[] }).data;
    expect(entries.map((entry) => [entry.token, entry.operation, entry.status])).toEqual([
      ["ops-bot", "POST /api/apps/sync", 403],
      ["ops-bot", "POST /api/events", 200],
      ["ops-bot", "POST /api/runs/:id/cancel", expect.any(Number)],
      ["ops-bot", "POST /actors/:type/:key/:action", 200],
      ["root", "POST /api/tokens", 201],
    ]);
    for (const entry of entries) {
      expect(entry.source).toMatch(/127\.0\.0\.1|::1/);
      expect(entry.at).toEqual(expect.any(Number));
    }
    expect(entries[3]?.target).toBe("/actors/Counter/a/increment");
    const onlyOps = await call(url, "GET", "/api/audit?token=root", ROOT);
    expect((onlyOps.body as { data: unknown[] }).data).toHaveLength(1);
    const bad = await call(url, "GET", "/api/audit?limit=0", ROOT);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("limit");
  });
});
