import { connect } from "node:net";
import pg from "pg";
import Cursor from "pg-cursor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { releaseSlow, startPgServer } from "./support.js";

const TOKEN = "pg-s3cret";
let running: Awaited<ReturnType<typeof startPgServer>>;
let client: pg.Client;

beforeAll(async () => {
  running = await startPgServer({ token: TOKEN });
  client = new pg.Client({
    host: "127.0.0.1",
    port: running.port,
    user: "troupe",
    password: TOKEN,
    database: "troupe",
  });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await running.close();
});

async function sqlState(query: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await query;
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  }
  throw new Error("expected the query to fail");
}

describe("node-postgres against the PostgreSQL wire server", () => {
  it("authenticates with SCRAM-SHA-256 and refuses a wrong password", async () => {
    const wrong = new pg.Client({
      host: "127.0.0.1",
      port: running.port,
      user: "x",
      password: "nope",
    });
    expect(await sqlState(wrong.connect())).toMatchObject({ code: "28P01" });
    await wrong.end().catch(() => undefined);
    const none = new pg.Client({ host: "127.0.0.1", port: running.port, user: "x" });
    await expect(none.connect()).rejects.toThrow();
    await none.end().catch(() => undefined);
  });

  it("selects actors with parameters, comparisons, IN, LIKE, ->> and ORDER BY/LIMIT/OFFSET", async () => {
    const point = await client.query(
      "SELECT type, key, (state->>'count')::int AS count, state FROM actors WHERE type = $1 AND key = $2",
      ["Counter", "c42"],
    );
    expect(point.rows).toEqual([{ type: "Counter", key: "c42", count: 42, state: { count: 42 } }]);
    const page = await client.query(
      "SELECT key FROM actors WHERE type = 'Counter' AND (state->>'count')::int >= $1 AND key LIKE 'c9%' ORDER BY key DESC LIMIT 3 OFFSET 1",
      [90],
    );
    expect(page.rows.map((row) => row.key)).toEqual(["c98", "c97", "c96"]);
    const some = await client.query(
      "SELECT key FROM actors WHERE key IN ('c1', 'c2', 'zz') OR key = 'c3' ORDER BY 1",
    );
    expect(some.rows.map((row) => row.key)).toEqual(["c1", "c2", "c3"]);
    const counted = await client.query("SELECT type, count(*) AS n FROM actors GROUP BY type");
    expect(counted.rows).toEqual([{ type: "Counter", n: "100" }]);
  });

  it("runs a named prepared statement many times", async () => {
    for (const key of ["c7", "c8", "c9"]) {
      const result = await client.query({
        name: "counter-by-key",
        text: "SELECT state->>'count' AS count FROM actors WHERE type = 'Counter' AND key = $1",
        values: [key],
      });
      expect(result.rows).toEqual([{ count: key.slice(1) }]);
    }
  });

  it("reads a large result through a cursor in pages", async () => {
    const cursor = client.query(
      new Cursor("SELECT key FROM actors WHERE type = $1 ORDER BY key", ["Counter"]),
    );
    const pages: number[] = [];
    let total = 0;
    for (;;) {
      const rows = await cursor.read(30);
      if (rows.length === 0) break;
      pages.push(rows.length);
      total += rows.length;
    }
    await cursor.close();
    expect(pages).toEqual([30, 30, 30, 10]);
    expect(total).toBe(100);
  });

  it("sends events with INSERT and finds the runs they started", async () => {
    const inserted = await client.query(
      "INSERT INTO events (name, data) VALUES ($1, $2), ('user/created', '{\"name\":\"bob\"}') RETURNING id",
      ["user/created", JSON.stringify({ name: "ada" })],
    );
    expect(inserted.rowCount).toBe(2);
    const ids = inserted.rows.map((row) => row.id);
    const events = await client.query(
      "SELECT id, name, data->>'name' AS who FROM events WHERE id IN ($1, $2) ORDER BY who",
      ids,
    );
    expect(events.rows.map((row) => row.who)).toEqual(["ada", "bob"]);
    await running.flows.runDue();
    const runs = await client.query(
      "SELECT function_id, status FROM runs WHERE function_id = 'welcome'",
    );
    expect(runs.rows).toHaveLength(2);
    const functions = await client.query(
      "SELECT id, triggers->0->>'event' AS event FROM functions",
    );
    expect(functions.rows).toEqual([{ id: "welcome", event: "user/created" }]);
    const snapshots = await client.query(
      "SELECT actor_id, version, snapshot->'outputs'->>'hp' AS hp FROM stats_snapshots",
    );
    expect(snapshots.rows).toEqual([{ actor_id: "hero-1", version: "7", hp: "10" }]);
  });

  it("calls an actor from SQL", async () => {
    const result = await client.query("SELECT troupe.call_actor($1, $2, 'add', $3) AS count", [
      "Counter",
      "c1",
      "[5]",
    ]);
    expect(result.rows).toEqual([{ count: 6 }]);
    expect(
      await sqlState(client.query("SELECT troupe.call_actor('Counter', 'c1', 'add', '[\"x\"]')")),
    ).toMatchObject({
      code: "22023",
    });
  });

  it("answers unsupported SQL with the right SQLSTATE, naming the construct", async () => {
    expect(
      await sqlState(client.query("SELECT * FROM actors a JOIN runs r ON a.key = r.id")),
    ).toMatchObject({
      code: "0A000",
      message: expect.stringContaining("JOIN"),
    });
    expect(await sqlState(client.query("UPDATE actors SET key = 'x'"))).toMatchObject({
      code: "0A000",
      message: expect.stringContaining("UPDATE"),
    });
    expect(await sqlState(client.query("SELECT nope FROM actors"))).toMatchObject({
      code: "42703",
    });
    expect(await sqlState(client.query("SELECT * FROM nowhere"))).toMatchObject({ code: "42P01" });
    expect(await sqlState(client.query("SELEC 1"))).toMatchObject({ code: "42601" });
    expect(await sqlState(client.query("SELECT frobnicate(1)"))).toMatchObject({ code: "42883" });
    expect(await sqlState(client.query("INSERT INTO runs (id) VALUES ('x')"))).toMatchObject({
      code: "0A000",
    });
    // The connection is still usable after errors.
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("cancels a running statement with a cancel request", async () => {
    const other = new pg.Client({
      host: "127.0.0.1",
      port: running.port,
      user: "troupe",
      password: TOKEN,
    });
    await other.connect();
    try {
      const waiting = sqlState(other.query("SELECT troupe.call_actor('Slow', 's', 'wait')"));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { processID, secretKey } = other as unknown as { processID: number; secretKey: number };
      await new Promise<void>((resolve, reject) => {
        const socket = connect(running.port, "127.0.0.1", () => {
          const message = Buffer.alloc(16);
          message.writeInt32BE(16, 0);
          message.writeInt32BE(80_877_102, 4);
          message.writeInt32BE(processID, 8);
          message.writeInt32BE(secretKey, 12);
          socket.end(message);
        });
        socket.on("close", () => resolve());
        socket.on("error", reject);
      });
      releaseSlow();
      expect(await waiting).toMatchObject({ code: "57014" });
      expect((await other.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
    } finally {
      await other.end();
    }
  });
});
