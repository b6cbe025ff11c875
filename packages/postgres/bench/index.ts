// Benchmarks of the PostgreSQL adapters, with pg-boss 10 on the same database as the reference
// for the queue cycle. Run with `pnpm --filter @troupe/postgres bench`.
import { cpus } from "node:os";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { benchQueue, benchStore, printTable } from "@troupe/testkit";
import pg from "pg";
import { createPostgresQueue, createPostgresStore } from "../src/index.js";
import { openPgBossQueue } from "./pg-boss-queue.js";

const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schemas = {
  troupe: `troupe_bench_${process.pid}`,
  pgBoss: `troupe_bench_pgboss_${process.pid}`,
};
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 2000);

const admin = new pg.Pool({ connectionString: url, max: 1 });
const dropSchemas = async () => {
  for (const schema of Object.values(schemas)) {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
};

try {
  const version = await admin.query<{ server_version: string }>("SHOW server_version");
  console.log(
    `PostgreSQL ${version.rows[0]?.server_version} at ${url.replace(/\/\/[^@]*@/, "//")}, Node ${process.version}, ${cpus().length} cores, ${durationMs} ms per measurement`,
  );
  await dropSchemas();

  const queueRows = await benchQueue(
    [
      { name: "pg-boss 10.4.2", create: () => openPgBossQueue(url, schemas.pgBoss) },
      {
        name: "postgres (Troupe)",
        create: () =>
          createPostgresQueue({
            connectionString: url,
            schema: schemas.troupe,
            queueName: "bench",
          }),
      },
      { name: "memory", create: () => createMemoryQueue({ queueName: "bench" }) },
    ],
    { durationMs },
  );
  printTable("Queue: enqueue → claim → ack (vs first = vs pg-boss)", queueRows);

  const storeRows = await benchStore(
    [
      {
        name: "postgres (Troupe)",
        create: () => createPostgresStore({ connectionString: url, schema: schemas.troupe }),
      },
      { name: "memory", create: () => createMemoryStore() },
    ],
    { durationMs },
  );
  printTable("Store (vs first = vs postgres)", storeRows);
} finally {
  await dropSchemas();
  await admin.end();
}
