// pnpm --filter @troupe/sqlite bench — the standard Store and Queue benchmarks, memory vs SQLite.
// BENCH_SQLITE_DRIVERS=node:sqlite,better-sqlite3 adds a "sqlite (<driver>)" row per driver next
// to the default driver's "sqlite" rows (Node ≥ 24 runs node:sqlite by default, older better-sqlite3).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ackManyOneByOne,
  createMemoryQueue,
  createMemoryStore,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import {
  type BenchCandidate,
  benchQueue,
  benchQueueBacklog,
  benchStore,
  printTable,
} from "@troupe/testkit";
import { defaultDriver } from "../src/driver.js";
import {
  createSqliteQueue,
  createSqliteStore,
  type SqliteDriverName,
  type SqliteSynchronous,
} from "../src/index.js";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 1000);
const dir = mkdtempSync(join(tmpdir(), "troupe-sqlite-bench-"));
let fileCount = 0;
const freshFile = () => join(dir, `bench-${++fileCount}.db`);
const removeFile = (path: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
};

interface Settings {
  readonly synchronous?: SqliteSynchronous;
  readonly exclusive?: boolean;
  readonly driver?: SqliteDriverName;
}

// Extra drivers measured beside the default one (which the plain "sqlite" rows use).
const otherDrivers = (process.env.BENCH_SQLITE_DRIVERS ?? "")
  .split(",")
  .filter((name): name is SqliteDriverName => name === "node:sqlite" || name === "better-sqlite3")
  .filter((name) => name !== defaultDriver());

function sqliteStore(name: string, settings: Settings = {}): BenchCandidate<Store> {
  let path = "";
  return {
    name,
    create: () => {
      path = freshFile();
      return createSqliteStore({ path, ...settings });
    },
    destroy: () => removeFile(path),
  };
}

function sqliteQueue(name: string, settings: Settings = {}): BenchCandidate<Queue> {
  let path = "";
  return {
    name,
    create: () => {
      path = freshFile();
      return createSqliteQueue({ path, queueName: "bench", clock: systemClock, ...settings });
    },
    destroy: () => removeFile(path),
  };
}

const payload = new Uint8Array(100);

/**
 * CPU time per operation (user + system, from process.cpuUsage), next to the wall-clock tables:
 * on a shared machine the wall clock also counts time spent waiting for a core, CPU time does not.
 */
async function cpuPerOperation(
  name: string,
  open: () => { run: () => Promise<void>; close: () => Promise<void> },
  operations: number,
): Promise<Record<string, string | number>> {
  const subject = open();
  for (let i = 0; i < Math.min(2000, operations); i++) await subject.run();
  const before = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < operations; i++) await subject.run();
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(before);
  await subject.close();
  const cpuUs = (cpu.user + cpu.system) / operations;
  return {
    operation: name,
    "CPU µs/op": Number(cpuUs.toFixed(1)),
    "user µs": Number((cpu.user / operations).toFixed(1)),
    "system µs": Number((cpu.system / operations).toFixed(1)),
    "ops/s if CPU-bound": Math.round(1_000_000 / cpuUs),
    "wall ops/s (this run)": Math.round((operations / wallMs) * 1000),
  };
}

function guardedCommits(store: Store) {
  let version: number | undefined;
  return {
    run: async () => {
      version = (
        await store.commit([
          version === undefined
            ? { type: "set", key: "cpu/guarded", value: payload }
            : { type: "set", key: "cpu/guarded", value: payload, expect: version },
        ])
      ).version;
    },
    close: () => store.close(),
  };
}

function queueCycles(queue: Queue) {
  return {
    run: async () => {
      await queue.enqueue({ payload });
      const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
      if (!lease) throw new Error("the item just enqueued was not claimable");
      await queue.ack(lease);
    },
    close: () => queue.close(),
  };
}

try {
  const storeRows = await benchStore(
    [
      { name: "memory", create: () => createMemoryStore() },
      sqliteStore("sqlite"),
      ...otherDrivers.map((driver) => sqliteStore(`sqlite (${driver})`, { driver })),
      sqliteStore("sqlite (exclusive)", { exclusive: true }),
      sqliteStore("sqlite (synchronous=full)", { synchronous: "full" }),
    ],
    { durationMs },
  );
  printTable("Store (1 process, sequential awaits)", storeRows);
  const queueRows = await benchQueue(
    [
      { name: "memory", create: () => createMemoryQueue({ clock: systemClock }) },
      sqliteQueue("sqlite"),
      ...otherDrivers.map((driver) => sqliteQueue(`sqlite (${driver})`, { driver })),
      sqliteQueue("sqlite (exclusive)", { exclusive: true }),
      sqliteQueue("sqlite (synchronous=full)", { synchronous: "full" }),
    ],
    { durationMs },
  );
  printTable("Queue (1 process, sequential awaits)", queueRows);
  // ackMany (one transaction) against the same 50 leases acked one `ack` at a time, side by side.
  const backlogFile = freshFile();
  const backlogRows = await benchQueueBacklog(
    [
      {
        name: "sqlite, ackMany",
        create: (queueName) =>
          createSqliteQueue({
            path: backlogFile,
            queueName: `${queueName}-many`,
            clock: systemClock,
          }),
      },
      {
        name: "sqlite, ack one by one",
        create: (queueName) => {
          const queue = createSqliteQueue({
            path: backlogFile,
            queueName: `${queueName}-each`,
            clock: systemClock,
          });
          return { ...queue, ackMany: (leases) => ackManyOneByOne(queue, leases) } satisfies Queue;
        },
      },
    ],
    [
      { batch: 50, queued: 5000, consumers: 1 },
      { batch: 50, queued: 20_000, consumers: 1 },
    ],
    { sliceMs: Math.round(durationMs / 2), slices: 4 },
  );
  removeFile(backlogFile);
  printTable("Queue: claim→ack of 50 against a backlog (alternating slices)", backlogRows);
  const cpuRows = [
    await cpuPerOperation(
      "memory: guarded commit",
      () => guardedCommits(createMemoryStore()),
      20_000,
    ),
    await cpuPerOperation(
      "sqlite: guarded commit",
      () => guardedCommits(createSqliteStore({ path: freshFile() })),
      20_000,
    ),
    await cpuPerOperation(
      "sqlite (exclusive): guarded commit",
      () => guardedCommits(createSqliteStore({ path: freshFile(), exclusive: true })),
      20_000,
    ),
    await cpuPerOperation(
      "memory: enqueue→claim→ack",
      () => queueCycles(createMemoryQueue({ clock: systemClock })),
      10_000,
    ),
    await cpuPerOperation(
      "sqlite: enqueue→claim→ack",
      () =>
        queueCycles(createSqliteQueue({ path: freshFile(), queueName: "cpu", clock: systemClock })),
      10_000,
    ),
  ];
  cpuRows.push(
    await cpuPerOperation(
      "sqlite (exclusive): enqueue→claim→ack",
      () =>
        queueCycles(
          createSqliteQueue({
            path: freshFile(),
            exclusive: true,
            queueName: "cpu",
            clock: systemClock,
          }),
        ),
      10_000,
    ),
  );
  for (const driver of otherDrivers) {
    cpuRows.push(
      await cpuPerOperation(
        `sqlite (${driver}): guarded commit`,
        () => guardedCommits(createSqliteStore({ path: freshFile(), driver })),
        20_000,
      ),
      await cpuPerOperation(
        `sqlite (${driver}): enqueue→claim→ack`,
        () =>
          queueCycles(
            createSqliteQueue({ path: freshFile(), queueName: "cpu", clock: systemClock, driver }),
          ),
        10_000,
      ),
    );
  }
  console.log(`Node ${process.version}; default driver: ${defaultDriver()}`);
  printTable("CPU time per operation (process.cpuUsage)", cpuRows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
