import { createRequire } from "node:module";

/** The PostgreSQL server integration tests run against: `TROUPE_TEST_POSTGRES_URL`, or the local default. */
export const testPostgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The part of a `pg` Pool the scratch schemas use. */
interface AdminPool {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: "error", listener: () => void): unknown;
}

/** What {@link scratchSchemas} takes. */
export interface ScratchSchemasOptions {
  /**
   * `import.meta.url` of a module whose package depends on `@troupe/postgres`: `pg` is loaded
   * through that package, so neither this kit nor the test's package needs `pg` of its own.
   */
  readonly from: string | URL;
  /** The server. Default {@link testPostgresUrl}. */
  readonly url?: string;
}

/** Scratch schemas handed out by {@link scratchSchemas}. */
export interface ScratchSchemas {
  /** Fails with a message naming the URL when the server is unreachable. */
  assertReachable(): Promise<void>;
  /** A new schema name (the Store or Queue creates the schema on first use). */
  fresh(): string;
  /** Drops every schema handed out, then closes the admin connection pool. */
  dropAll(): Promise<void>;
}

/**
 * Scratch PostgreSQL schemas for one test file: `fresh()` names a new schema
 * (`troupe_<tag>_<pid>_<time>_<n>`), `dropAll()` removes them all.
 */
export function scratchSchemas(tag: string, options: ScratchSchemasOptions): ScratchSchemas {
  if (!/^[a-z0-9_]{1,20}$/.test(tag)) {
    throw new Error(
      `scratchSchemas: tag: expected 1-20 of a-z, 0-9 and _, got ${JSON.stringify(tag)}`,
    );
  }
  const url = options.url ?? testPostgresUrl;
  // `@troupe/postgres` exports its package.json; `pg` is resolved from that package's folder.
  const postgresPackage = createRequire(options.from).resolve("@troupe/postgres/package.json");
  const { Pool } = createRequire(postgresPackage)("pg") as {
    Pool: new (config: { connectionString: string; max: number }) => AdminPool;
  };
  const admin = new Pool({ connectionString: url, max: 2 });
  admin.on("error", () => undefined);
  const created: string[] = [];
  let counter = 0;
  return {
    async assertReachable() {
      try {
        await admin.query("SELECT 1");
      } catch (error) {
        throw new Error(
          `PostgreSQL is unreachable at ${url} (set TROUPE_TEST_POSTGRES_URL): ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    fresh() {
      const schema = `troupe_${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
      created.push(schema);
      return schema;
    },
    async dropAll() {
      for (const schema of created.splice(0)) {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
      await admin.end();
    },
  };
}
