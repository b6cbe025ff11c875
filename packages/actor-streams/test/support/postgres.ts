import { createRequire } from "node:module";

/** The server the PostgreSQL tests run against; CI sets the variable. */
export const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// `pg` is a dependency of @troupe/postgres, not of this package: load it from there, so the
// tests can create and drop scratch schemas without a dependency of their own.
const requireFromPostgres = createRequire(import.meta.resolve("@troupe/postgres"));
const { Pool } = requireFromPostgres("pg") as {
  Pool: new (config: { connectionString: string; max: number }) => AdminPool;
};

/** The part of a pg Pool these tests use. */
interface AdminPool {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: "error", listener: () => void): unknown;
}

/** Scratch schemas for one test file: a fresh name per call, all dropped by `dropAll`. */
export function scratchSchemas(tag: string) {
  const admin = new Pool({ connectionString: postgresUrl, max: 2 });
  admin.on("error", () => undefined);
  const created: string[] = [];
  let counter = 0;
  return {
    /** Fails with a message naming the URL when the server is unreachable. */
    async assertReachable(): Promise<void> {
      try {
        await admin.query("SELECT 1");
      } catch (error) {
        throw new Error(
          `PostgreSQL is unreachable at ${postgresUrl} (set TROUPE_TEST_POSTGRES_URL): ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    /** A new schema name (the store creates the schema on first use). */
    fresh(): string {
      const schema = `troupe_${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
      created.push(schema);
      return schema;
    },
    /** Drops every schema handed out, then closes the admin pool. */
    async dropAll(): Promise<void> {
      for (const schema of created.splice(0)) {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
      await admin.end();
    },
  };
}
