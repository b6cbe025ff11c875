// pnpm --filter @troupe/etcd bench: the standard Store benchmark on etcd, next to the PostgreSQL
// adapter on this machine's PostgreSQL (and memory as the ceiling), in one run. Rounds alternate
// the candidates so load from other processes hits them alike; the table holds medians.
import { createMemoryStore, type Store } from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { benchStore, printTable } from "@troupe/testkit";
import pg from "pg";
import { createEtcdStore } from "../src/index.js";
import { deletePrefix, etcdUrl } from "../test/etcd-env.js";

const durationMs = Number(process.env.TROUPE_BENCH_MS ?? 1200);
const rounds = Number(process.env.TROUPE_BENCH_ROUNDS ?? 3);
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const tag = `bench_${process.pid}_${Date.now().toString(36)}`;

type Row = Record<string, string | number>;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Concurrent guarded commits: `workers` loops, each on its own key, for `ms`. */
async function concurrentGuarded(store: Store, workers: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      const key = `bench/concurrent/${worker}`;
      let version = (await store.commit([{ type: "set", key, value: new Uint8Array(100) }]))
        .version;
      while (performance.now() < end) {
        version = (
          await store.commit([{ type: "set", key, value: new Uint8Array(100), expect: version }])
        ).version;
        done++;
      }
    }),
  );
  return Math.round(done / (ms / 1000));
}

const candidates = [
  { name: "memory", create: () => createMemoryStore() },
  {
    name: "postgres",
    create: () => createPostgresStore({ connectionString: postgresUrl, schema: tag }),
  },
  { name: "etcd", create: () => createEtcdStore({ url: etcdUrl, prefix: `${tag}/` }) },
];

const perRound: Row[][] = [];
const concurrent = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? candidates : [...candidates].reverse();
  const rows = await benchStore(order, { durationMs });
  perRound.push(
    candidates.flatMap((candidate) => rows.filter((r) => r.adapter === candidate.name)),
  );
  for (const candidate of order) {
    const store = await candidate.create();
    try {
      const opsPerSec = await concurrentGuarded(store, 16, durationMs);
      concurrent.set(candidate.name, [...(concurrent.get(candidate.name) ?? []), opsPerSec]);
    } finally {
      await store.close();
    }
  }
}

const medians: Row[] = (perRound[0] ?? []).map((row, index) => {
  const out: Row = {};
  for (const [column, value] of Object.entries(row)) {
    if (column === "vs first") continue;
    out[column] =
      typeof value === "number"
        ? Math.round(median(perRound.map((rows) => Number(rows[index]?.[column] ?? 0))))
        : value;
  }
  return out;
});
const postgresOps = new Map(
  medians.filter((row) => row.adapter === "postgres").map((row) => [row.operation, row["ops/s"]]),
);
printTable(
  `Store (median of ${rounds} rounds, ${durationMs} ms each; "vs postgres" = ops/s ratio)`,
  medians.map((row) => ({
    ...row,
    "vs postgres": `${(Number(row["ops/s"]) / Number(postgresOps.get(row.operation) || 1)).toFixed(2)}x`,
  })),
);
const pgConcurrent = median(concurrent.get("postgres") ?? [0]) || 1;
printTable(
  "Guarded commits, 16 concurrent writers on distinct keys (commits/s, median)",
  candidates.map(({ name }) => {
    const value = median(concurrent.get(name) ?? [0]);
    return {
      adapter: name,
      "commits/s": value,
      "vs postgres": `${(value / pgConcurrent).toFixed(2)}x`,
    };
  }),
);

await deletePrefix(`${tag}/`);
const admin = new pg.Client({ connectionString: postgresUrl });
await admin.connect();
await admin.query(`DROP SCHEMA IF EXISTS "${tag}" CASCADE`);
await admin.end();
