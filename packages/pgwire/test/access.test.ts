// Scoped tokens on the PostgreSQL-protocol server, through node-postgres: the password is the
// token, each statement needs the scope of what it reads or does (42501 naming it otherwise),
// mutating statements and refusals reach the audit hook with the token's name and the client's
// address, and a revoked token ends an open session at its next check.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { PgAccess, ProtocolAuditEntry, ProtocolPrincipal } from "../src/index.js";
import { startPgServer } from "./support.js";

const TOKENS: Record<string, ProtocolPrincipal> = {
  "tok-runs": { name: "runs-reader", scopes: ["runs:read"] },
  "tok-actors": { name: "actors-reader", scopes: ["actors:read"] },
  "tok-call": { name: "caller", scopes: ["actors:call"] },
  "tok-event": { name: "sender", scopes: ["events:send"] },
  "tok-stats": { name: "stats-reader", scopes: ["stats:read"] },
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function secured(recheckMs = 100) {
  const live = new Map(Object.entries(TOKENS));
  const audit: ProtocolAuditEntry[] = [];
  const users: (string | undefined)[] = [];
  const access: PgAccess = {
    authenticate: async (password, user) => {
      users.push(user);
      return live.get(password);
    },
    audit: (entry) => audit.push(entry),
    recheckMs,
  };
  const running = await startPgServer({ access });
  cleanups.push(() => running.close());
  const connect = async (password: string) => {
    const client = new pg.Client({ host: "127.0.0.1", port: running.port, user: "svc", password });
    client.on("error", () => undefined);
    await client.connect();
    cleanups.push(() => client.end().catch(() => undefined));
    return client;
  };
  return { live, audit, users, connect };
}

const PROBES: { scope: string; token: string; sql: string }[] = [
  { scope: "runs:read", token: "tok-runs", sql: "SELECT id FROM runs LIMIT 1" },
  { scope: "runs:read", token: "tok-runs", sql: "SELECT id FROM functions" },
  { scope: "actors:read", token: "tok-actors", sql: "SELECT key FROM actors LIMIT 1" },
  { scope: "stats:read", token: "tok-stats", sql: "SELECT actor_id FROM stats_snapshots" },
  {
    scope: "actors:call",
    token: "tok-call",
    sql: `SELECT troupe.call_actor('Counter', 'c1', 'add', '[1]')`,
  },
  {
    scope: "events:send",
    token: "tok-event",
    sql: `INSERT INTO events (name, data) VALUES ('user/created', '{"name":"Ada"}')`,
  },
];

describe("PG-wire scoped tokens", () => {
  it("refuses a statement whose scope the token lacks (naming it) and accepts it with the scope", async () => {
    const { connect, users } = await secured();
    for (const probe of PROBES) {
      const stranger = Object.keys(TOKENS).find(
        (token) => TOKENS[token]?.scopes[0] !== probe.scope,
      ) as string;
      const refused = await connect(stranger);
      await expect(refused.query(probe.sql), `${probe.sql} refused`).rejects.toMatchObject({
        code: "42501",
        message: `permission denied: this token lacks the scope ${probe.scope}`,
      });
      // The session goes on after a refusal; catalog queries need no scope.
      expect((await refused.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      const holder = await connect(probe.token);
      await expect(holder.query(probe.sql), `${probe.sql} accepted`).resolves.toBeDefined();
    }
    expect(users.every((user) => user === "svc")).toBe(true);
  });

  it("refuses a password that is no live token", async () => {
    const { connect, audit } = await secured();
    await expect(connect("tok-nope")).rejects.toMatchObject({
      code: "28P01",
      message: expect.stringContaining("expected a live Troupe token"),
    });
    expect(audit).toMatchObject([{ principal: undefined, operation: "PG LOGIN", status: 401 }]);
  });

  it("audits what changes, refusals included, with the token's name and address", async () => {
    const { connect, audit } = await secured();
    const caller = await connect("tok-call");
    await caller.query(`SELECT troupe.call_actor('Counter', 'c2', 'add', '[3]')`);
    await expect(caller.query(`INSERT INTO events (name) VALUES ('app/x')`)).rejects.toThrow(
      /events:send/,
    );
    await caller.query("SELECT 1"); // reads are not audited
    const sender = await connect("tok-event");
    await sender.query(`INSERT INTO events (name, data) VALUES ('app/a', '{}'), ('app/b', '{}')`);
    expect(
      audit.map(({ principal, operation, target, status }) => ({
        token: principal?.name,
        operation,
        target,
        status,
      })),
    ).toEqual([
      { token: "caller", operation: "PG troupe.call_actor", target: "Counter/c2/add", status: 200 },
      { token: "caller", operation: "PG INSERT INTO events", target: "app/x", status: 403 },
      { token: "sender", operation: "PG INSERT INTO events", target: "app/a app/b", status: 200 },
    ]);
    expect(
      audit.every((entry) => /:\d+$/.test(entry.source) && !entry.source.startsWith("?")),
    ).toBe(true);
  });

  it("ends an open session once its token is revoked", async () => {
    const { live, connect } = await secured(0);
    const client = await connect("tok-runs");
    await client.query("SELECT id FROM runs LIMIT 1");
    live.delete("tok-runs");
    await expect(client.query("SELECT id FROM runs LIMIT 1")).rejects.toMatchObject({
      code: "28000",
      message: "the token is no longer valid",
    });
  });
});
