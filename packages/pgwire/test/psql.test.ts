import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgServer } from "./support.js";

const run = promisify(execFile);
const TOKEN = "psql-t0ken";
let running: Awaited<ReturnType<typeof startPgServer>>;

beforeAll(async () => {
  running = await startPgServer({ token: TOKEN });
});
afterAll(() => running.close());

// The real psql (apt-get install postgresql-client): a missing binary fails the test.
async function psql(...commands: string[]): Promise<string> {
  const args = [
    `postgres://troupe@127.0.0.1:${running.port}/troupe`,
    "-X",
    "-v",
    "ON_ERROR_STOP=1",
  ];
  for (const command of commands) args.push("-c", command);
  const { stdout } = await run("psql", args, {
    env: { ...process.env, PGPASSWORD: TOKEN, PGSSLMODE: "prefer", PGCONNECT_TIMEOUT: "5" },
  });
  return stdout;
}

describe("psql against the PostgreSQL wire server", () => {
  it("lists the tables with \\dt and describes one with \\d", async () => {
    const tables = await psql("\\dt");
    for (const name of ["actors", "events", "functions", "runs", "stats_snapshots", "steps"]) {
      expect(tables).toMatch(new RegExp(`public \\| ${name}\\s+\\| table`));
    }
    const runs = await psql("\\d runs");
    expect(runs).toContain('Table "public.runs"');
    expect(runs).toMatch(/created_at\s+\| timestamp with time zone/);
    expect(runs).toMatch(/output\s+\| jsonb/);
  });

  it("runs queries, sends an event and calls an actor", async () => {
    const out = await psql(
      "SELECT key, state->>'count' AS count FROM actors WHERE type = 'Counter' ORDER BY (state->>'count')::int DESC LIMIT 2",
      "INSERT INTO events (name, data) VALUES ('user/created', '{\"name\":\"psql\"}')",
      "SELECT troupe.call_actor('Counter', 'c0', 'add', '[3]') AS result",
      "SELECT count(*) FROM events WHERE name = 'user/created'",
    );
    expect(out).toMatch(/c99\s+\| 99\s*\n\s*c98\s+\| 98/);
    expect(out).toContain("INSERT 0 1");
    expect(out).toMatch(/result\s*\n-+\s*\n\s*3\s*\n/);
    expect(out).toMatch(/count\s*\n-+\s*\n\s*1\s*\n/);
  });

  it("fails a statement with the PostgreSQL error format", async () => {
    await expect(psql("SELECT * FROM actors, runs")).rejects.toMatchObject({
      stderr: expect.stringContaining("ERROR:  JOIN is not supported by Troupe"),
    });
  });
});
