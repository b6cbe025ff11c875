// CPU per workflow at C=50 (or `FLOWS_BENCH_CPU_LANES`) on PostgreSQL, Troupe flows against DBOS Transact, side by side:
// this process's CPU time (process.cpuUsage), the PostgreSQL backends' CPU time (/proc of the
// backends connected to each system's own database) and the transactions each database counted
// (pg_stat_database), per workflow. CPU time per workflow is steadier than workflows/s on a shared,
// loaded machine. Run with `pnpm bench cpu` (`FLOWS_BENCH_CPU_WORKFLOWS`, `FLOWS_BENCH_ROUNDS`;
// `FLOWS_BENCH_CPU_SYSTEMS=troupe` runs Troupe alone, e.g. under `node --cpu-prof`).
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { printTable } from "@troupe/testkit";
import pg from "pg";
import { statementKind } from "./commits.js";
import { dbosOne, launchDbos, shutdownDbos } from "./dbos.js";
import type { ScratchDatabases } from "./scratch-databases.js";
import { openTroupe, timeLanes } from "./versus-dbos.js";

const WORKFLOWS = Number(process.env.FLOWS_BENCH_CPU_WORKFLOWS ?? 2000);
const ROUNDS = Number(process.env.FLOWS_BENCH_ROUNDS ?? 4);
const SYSTEMS = (process.env.FLOWS_BENCH_CPU_SYSTEMS ?? "troupe,dbos").split(",");
/** Workflows in flight at once (`FLOWS_BENCH_CPU_LANES`; 1 measures the one-at-a-time path). */
const LANES = Number(process.env.FLOWS_BENCH_CPU_LANES ?? 50);
/** With `FLOWS_BENCH_CPU_COUNT=1`, every statement of this process's pg clients by kind. */
const COUNT = process.env.FLOWS_BENCH_CPU_COUNT === "1";

interface Tally {
  calls: number;
  bytes: number;
}
const tallies = new Map<string, Tally>();

/** The bytes a statement's parameters carry (text and binary), roughly as sent. */
function valueBytes(values: readonly unknown[] | undefined): number {
  let bytes = 0;
  for (const value of values ?? []) {
    if (value instanceof Uint8Array) bytes += value.byteLength;
    else if (Array.isArray(value)) bytes += valueBytes(value);
    else if (value !== null && value !== undefined) bytes += String(value).length;
  }
  return bytes;
}

/** Counts every `Client.query` of the pg module the bench and Troupe's adapters share. */
function countStatements(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: string }).text ?? "");
    const values = (
      typeof first === "string" ? args[1] : (first as { values?: unknown[] }).values
    ) as unknown[] | undefined;
    const plain = statementKind(text, values);
    // Reads are told apart by their text (the store's get, list, …).
    const kind = plain === "read" ? `read: ${text.replace(/\s+/g, " ").slice(50, 140)}` : plain;
    const tally = tallies.get(kind) ?? { calls: 0, bytes: 0 };
    tally.calls++;
    tally.bytes += text.length + valueBytes(values);
    tallies.set(kind, tally);
    return original.apply(this, args);
  };
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU ms of one process from /proc (0 when it is gone or unreadable). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
  } catch {
    return 0;
  }
}

interface DbSample {
  readonly backends: Map<number, number>;
  readonly xacts: number;
}

/** The CPU ms of every backend connected to `database`, and its committed transactions. */
async function sampleDatabase(admin: pg.Client, database: string): Promise<DbSample> {
  const pids = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    [database],
  );
  const stats = await admin.query<{ xacts: string }>(
    "SELECT xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = $1",
    [database],
  );
  return {
    backends: new Map(pids.rows.map(({ pid }) => [pid, procCpuMs(pid)])),
    xacts: Number(stats.rows[0]?.xacts ?? 0),
  };
}

/** Backend CPU between two samples: backends present at the end count from 0 if they are new. */
function backendCpuMs(before: DbSample, after: DbSample): number {
  let total = 0;
  for (const [pid, ms] of after.backends) total += ms - (before.backends.get(pid) ?? 0);
  return total;
}

interface CpuRound {
  readonly perSecond: number;
  readonly processMs: number;
  readonly backendMs: number;
  readonly xacts: number;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** pg_stat_database is flushed by each backend about once a second after its transactions. */
const settleStats = () => new Promise((resolve) => setTimeout(resolve, 1500));

export async function cpuBench(url: string, databases: ScratchDatabases): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  if (COUNT) countStatements();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const runs: Record<string, { db: string; one: (n: number) => Promise<void> }> = {};
  let closeTroupe = async () => {};
  if (SYSTEMS.includes("troupe")) {
    const db = await databases.create("cpu");
    const troupe = await openTroupe(db.url);
    runs.troupe = { db: db.name, one: () => troupe.one() };
    closeTroupe = () => troupe.close();
  }
  if (SYSTEMS.includes("dbos")) {
    const db = await databases.create("cpu_dbos");
    await launchDbos(db.url);
    runs.dbos = { db: db.name, one: (n) => dbosOne(n) };
  }
  for (const { one } of Object.values(runs)) await timeLanes(200, LANES, one);
  const results: Record<string, CpuRound[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(runs);
    if (round % 2 === 1) names.reverse();
    for (const name of names) {
      const system = runs[name];
      if (!system) continue;
      await settleStats();
      const before = await sampleDatabase(admin, system.db);
      tallies.clear();
      const cpu = process.cpuUsage();
      const timed = await timeLanes(WORKFLOWS, LANES, system.one);
      const used = process.cpuUsage(cpu);
      const counted = [...tallies.entries()];
      await settleStats();
      const after = await sampleDatabase(admin, system.db);
      const rounds = results[name] ?? [];
      results[name] = rounds;
      rounds.push({
        perSecond: timed.perSecond,
        processMs: (used.user + used.system) / 1000 / WORKFLOWS,
        backendMs: backendCpuMs(before, after) / WORKFLOWS,
        // The two samples' own statements (2 each) are not the system's.
        xacts: (after.xacts - before.xacts - 2) / WORKFLOWS,
      });
      if (COUNT && name === "troupe") {
        printTable(
          `troupe statements per workflow at C=${LANES}, round ${round + 1}`,
          counted.map(([kind, tally]) => ({
            statement: kind,
            "per workflow": (tally.calls / WORKFLOWS).toFixed(3),
            "bytes sent per workflow": (tally.bytes / WORKFLOWS).toFixed(0),
          })),
        );
      }
    }
  }
  await closeTroupe();
  if (runs.dbos) await shutdownDbos();
  await admin.end();
  const loadAfter = loadavg()[0] ?? 0;
  const label: Record<string, string> = {
    troupe: "troupe flows (postgres)",
    dbos: "DBOS Transact 5.3.0 (postgres)",
  };
  const rows = Object.entries(results).map(([name, rounds]) => ({
    system: label[name] ?? name,
    "workflows/s": median(rounds.map((r) => r.perSecond)).toFixed(0),
    "process CPU ms/workflow": median(rounds.map((r) => r.processMs)).toFixed(3),
    "PostgreSQL backend CPU ms/workflow": median(rounds.map((r) => r.backendMs)).toFixed(3),
    "total CPU ms/workflow": median(rounds.map((r) => r.processMs + r.backendMs)).toFixed(3),
    "transactions/workflow": median(rounds.map((r) => r.xacts)).toFixed(2),
  }));
  printTable(
    `CPU per 3-step workflow at C=${LANES} on PostgreSQL (median of ${ROUNDS} alternating rounds of ${WORKFLOWS})`,
    rows,
  );
  for (const [name, rounds] of Object.entries(results)) {
    console.log(
      `${name} per round: workflows/s ${rounds.map((r) => r.perSecond.toFixed(0)).join(", ")}; process CPU ms ${rounds.map((r) => r.processMs.toFixed(3)).join(", ")}; backend CPU ms ${rounds.map((r) => r.backendMs.toFixed(3)).join(", ")}`,
    );
  }
  console.log(
    `load average (1 min): ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
  );
}
