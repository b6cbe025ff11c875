import pg from "pg";
import { afterAll, afterEach, beforeAll } from "vitest";

/** The server every test runs against; CI sets the variable, a developer machine has the default. */
export const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A small pool for test bookkeeping (dropping schemas, killing backends). Its first use fails
 * with a message naming the URL when the server is unreachable, so the suite fails instead of
 * skipping.
 */
export function openAdminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  pool.on("error", () => undefined);
  return pool;
}

/** Throws a clear error unless the server answers. */
export async function assertReachable(pool: pg.Pool): Promise<void> {
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL is unreachable at ${postgresUrl} (set TROUPE_TEST_POSTGRES_URL): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Drops a test schema and everything in it. */
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Kills every backend whose application_name is `name`; resolves to how many. */
export async function terminateBackends(pool: pg.Pool, name: string): Promise<number> {
  const result = await pool.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    [name],
  );
  return result.rowCount ?? 0;
}

/** A pool whose connections carry `applicationName`, so a test can find and kill them. */
export function openNamedPool(applicationName: string, max = 4): pg.Pool {
  return new pg.Pool({ connectionString: postgresUrl, application_name: applicationName, max });
}

/** What {@link useScratchSchemas} gives a test file. */
export interface ScratchSchemas {
  /** The bookkeeping pool (see {@link openAdminPool}). */
  readonly admin: pg.Pool;
  /** A new schema name, dropped after the current test. */
  freshSchema(): string;
  /** Ends `pool` after the current test; returns it. */
  track(pool: pg.Pool): pg.Pool;
}

/**
 * Registers the hooks every PostgreSQL test file needs: fail at once when the server is
 * unreachable, end tracked pools and drop fresh schemas after each test, close the admin pool.
 */
export function useScratchSchemas(tag: string): ScratchSchemas {
  const admin = openAdminPool();
  const schemas: string[] = [];
  const pools: pg.Pool[] = [];
  let counter = 0;
  beforeAll(() => assertReachable(admin));
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    for (const schema of schemas.splice(0)) await dropSchema(admin, schema);
  });
  afterAll(() => admin.end());
  return {
    admin,
    freshSchema() {
      const schema = `troupe_${tag}_${process.pid}_${counter++}`;
      schemas.push(schema);
      return schema;
    },
    track(pool) {
      pools.push(pool);
      return pool;
    },
  };
}
