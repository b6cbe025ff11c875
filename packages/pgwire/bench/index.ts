// PostgreSQL wire benchmark: pgbench point selects on `actors` over the wire, against Troupe's
// pgwire server (memory Store, in this process) and the real PostgreSQL on this machine (a
// scratch table of the same shape), side by side in one run: one client (latency) and 16 (busy),
// prepared and simple protocol. Run with `pnpm bench` (tsx --conditions=source bench/index.ts).
// PGWIRE_BENCH_SECONDS (default 5); TROUPE_TEST_POSTGRES_URL names the real server.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import pg from "pg";
import { z } from "zod";
import { createPgServer } from "../src/index.js";

const SECONDS = Number(process.env.PGWIRE_BENCH_SECONDS ?? 5);
const ACTORS = 10_000;
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: { add: (ctx, by: number) => (ctx.state.count += by) },
});

const dir = mkdtempSync(path.join(tmpdir(), "troupe-pgwire-bench-"));
const script = path.join(dir, "point.sql");
writeFileSync(
  script,
  `\\set k random(0, ${ACTORS - 1})\nSELECT state FROM actors WHERE type = 'Counter' AND key = 'c' || :k;\n`,
);

function pgbench(conninfo: string, clients: number, mode: string, prefix: string) {
  const args = [
    "-n",
    "-f",
    script,
    "-M",
    mode,
    "-c",
    String(clients),
    "-j",
    String(Math.min(clients, 2)),
  ];
  args.push("-T", String(SECONDS), "-l", `--log-prefix=${path.join(dir, prefix)}`, conninfo);
  return new Promise<{ tps: number; p50: number; p99: number }>((resolve, reject) => {
    // Asynchronous: the Troupe server under test runs in this process's event loop.
    execFile("pgbench", args, { cwd: dir, maxBuffer: 1 << 22 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`pgbench failed: ${stderr || error.message}`));
      const tps = Number(/tps = ([\d.]+) \(without/.exec(stdout)?.[1] ?? 0);
      const latencies: number[] = [];
      for (const file of readdirSync(dir).filter((name) => name.startsWith(prefix))) {
        for (const line of readFileSync(path.join(dir, file), "utf8").split("\n")) {
          const micros = Number(line.split(" ")[2]);
          if (Number.isFinite(micros) && line !== "") latencies.push(micros);
        }
        rmSync(path.join(dir, file));
      }
      latencies.sort((a, b) => a - b);
      const at = (q: number) => (latencies[Math.floor(q * (latencies.length - 1))] ?? 0) / 1000;
      resolve({ tps, p50: at(0.5), p99: at(0.99) });
    });
  });
}

// Troupe: 10,000 saved Counter actors, read through the pgwire server.
const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Counter] });
for (let index = 0; index < ACTORS; index++) await system.get(Counter, `c${index}`).add(index);
const server = createPgServer({ system, store });
const troupePort = await server.listen(0);

// PostgreSQL: the same rows in a scratch table with a primary key.
const schema = `troupe_pgwire_bench_${process.pid}`;
const admin = new pg.Client({ connectionString: postgresUrl });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
await admin.query(
  `CREATE TABLE ${schema}.actors (type text, key text, state jsonb, PRIMARY KEY (type, key))`,
);
await admin.query(
  `INSERT INTO ${schema}.actors SELECT 'Counter', 'c' || i, jsonb_build_object('count', i) FROM generate_series(0, ${ACTORS - 1}) i`,
);
const url = new URL(postgresUrl);
const targets = [
  {
    name: "PostgreSQL (real)",
    conninfo: `host=${url.hostname} port=${url.port || 5432} user=${url.username} dbname=${url.pathname.slice(1)} options='-c search_path=${schema}'`,
  },
  {
    name: "Troupe pgwire, memory",
    conninfo: `host=127.0.0.1 port=${troupePort} user=bench dbname=troupe`,
  },
];

const rows: Record<string, string | number>[] = [];
try {
  for (const clients of [1, 16]) {
    for (const mode of ["prepared", "simple"]) {
      let base: number | undefined;
      for (const target of targets) {
        const result = await pgbench(target.conninfo, clients, mode, `log-${rows.length}`);
        base ??= result.tps;
        rows.push({
          server: target.name,
          clients,
          protocol: mode,
          "queries/s": Math.round(result.tps).toLocaleString("en-US"),
          "p50 ms": result.p50.toFixed(3),
          "p99 ms": result.p99.toFixed(3),
          "vs PostgreSQL": `${Math.round((result.tps / base) * 100)} %`,
        });
      }
    }
  }
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  await server.close();
  await system.close();
  rmSync(dir, { recursive: true, force: true });
}
printTable(
  `pgbench point selects on actors (${ACTORS.toLocaleString("en-US")} rows, ${SECONDS} s each): SELECT state FROM actors WHERE type = 'Counter' AND key = 'c' || :k`,
  rows,
);
