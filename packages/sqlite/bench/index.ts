// pnpm --filter @troupe/sqlite bench — the standard Store and Queue benchmarks, memory vs SQLite.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMemoryQueue,
  createMemoryStore,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import { type BenchCandidate, benchQueue, benchStore, printTable } from "@troupe/testkit";
import { createSqliteQueue, createSqliteStore, type SqliteSynchronous } from "../src/index.js";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 1500);
const dir = mkdtempSync(join(tmpdir(), "troupe-sqlite-bench-"));
let fileCount = 0;
const freshFile = () => join(dir, `bench-${++fileCount}.db`);
const removeFile = (path: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
};

function sqliteStore(name: string, synchronous?: SqliteSynchronous): BenchCandidate<Store> {
  let path = "";
  return {
    name,
    create: () => {
      path = freshFile();
      return createSqliteStore(synchronous ? { path, synchronous } : { path });
    },
    destroy: () => removeFile(path),
  };
}

function sqliteQueue(name: string, synchronous?: SqliteSynchronous): BenchCandidate<Queue> {
  let path = "";
  return {
    name,
    create: () => {
      path = freshFile();
      const base = { path, queueName: "bench", clock: systemClock };
      return createSqliteQueue(synchronous ? { ...base, synchronous } : base);
    },
    destroy: () => removeFile(path),
  };
}

try {
  const storeRows = await benchStore(
    [
      { name: "memory", create: () => createMemoryStore() },
      sqliteStore("sqlite"),
      sqliteStore("sqlite (synchronous=full)", "full"),
    ],
    { durationMs },
  );
  printTable("Store (1 process, sequential awaits)", storeRows);
  const queueRows = await benchQueue(
    [
      { name: "memory", create: () => createMemoryQueue({ clock: systemClock }) },
      sqliteQueue("sqlite"),
      sqliteQueue("sqlite (synchronous=full)", "full"),
    ],
    { durationMs },
  );
  printTable("Queue (1 process, sequential awaits)", queueRows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
