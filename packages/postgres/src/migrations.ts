import type pg from "pg";
import { isConnectionError, quoteIdent, toTroupeError } from "./connection.js";

/** One schema change, applied once per schema and recorded in `troupe_migrations`. */
interface Migration {
  readonly version: number;
  readonly name: string;
  /** The SQL, given the quoted schema name and the raw one (for literals). */
  sql(schema: string, rawSchema: string): string;
}

/**
 * Commits touching more keys than this lock the whole store instead of each key: PostgreSQL's
 * shared lock table holds about 64 locks per connection (max_locks_per_transaction).
 */
const MAX_KEY_LOCKS = 1000;

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "store",
    sql: (s, raw) => `
      CREATE TABLE ${s}.store_entries (
        key bytea PRIMARY KEY,
        value bytea NOT NULL,
        version bigint NOT NULL
      );
      CREATE SEQUENCE ${s}.store_versions AS bigint MINVALUE 1;
      -- Returns {version} on success, or {-1, index (1-based), actual version (0 = absent)} when a
      -- guard fails, having written nothing. One call is one implicit transaction.
      CREATE FUNCTION ${s}.store_commit(p_keys bytea[], p_kinds text[], p_values bytea[], p_expects bigint[])
      RETURNS bigint[] LANGUAGE plpgsql AS $fn$
      DECLARE
        v_version bigint;
        v_failed record;
      BEGIN
        -- Every commit locks every key it touches (guarded or not), in one global order so two
        -- commits never deadlock. The lock covers keys that do not exist yet, which row locks
        -- cannot: two commits guarded on "absent" serialise here, and the later one sees the
        -- earlier one's row. A huge commit would overflow the shared lock table, so it takes the
        -- store-wide lock exclusively instead, which every other commit holds shared.
        IF cardinality(p_keys) > ${MAX_KEY_LOCKS} THEN
          PERFORM pg_advisory_xact_lock(hashtextextended(${literal(`troupe.store:${raw}`)}, 0));
        ELSE
          PERFORM pg_advisory_xact_lock_shared(hashtextextended(${literal(`troupe.store:${raw}`)}, 0));
          PERFORM pg_advisory_xact_lock(locks.h)
            FROM (SELECT DISTINCT hashtextextended(${literal(`${raw}:`)} || encode(k, 'hex'), 0) AS h
                    FROM unnest(p_keys) AS k ORDER BY 1) AS locks;
        END IF;
        SELECT ops.i, e.version INTO v_failed
          FROM unnest(p_keys, p_expects) WITH ORDINALITY AS ops(k, x, i)
          LEFT JOIN ${s}.store_entries AS e ON e.key = ops.k
          WHERE ops.x IS NOT NULL AND coalesce(e.version, 0) <> ops.x
          ORDER BY ops.i LIMIT 1;
        IF FOUND THEN
          RETURN ARRAY[-1, v_failed.i, coalesce(v_failed.version, 0)];
        END IF;
        IF NOT ('s' = ANY(p_kinds) OR 'd' = ANY(p_kinds)) THEN
          RETURN ARRAY[0::bigint];
        END IF;
        -- Taken after the locks, so a key's versions only ever grow.
        v_version := nextval(${literal(`${s}.store_versions`)});
        DELETE FROM ${s}.store_entries AS e
          USING unnest(p_keys, p_kinds) AS ops(k, kind)
          WHERE ops.kind = 'd' AND e.key = ops.k;
        INSERT INTO ${s}.store_entries (key, value, version)
          SELECT ops.k, ops.v, v_version
            FROM unnest(p_keys, p_values, p_kinds) AS ops(k, v, kind)
            WHERE ops.kind = 's'
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version;
        RETURN ARRAY[v_version];
      END
      $fn$;`,
  },
  {
    version: 2,
    name: "queue",
    sql: (s) => `
      CREATE TABLE ${s}.queue_items (
        queue_name text NOT NULL,
        id text NOT NULL,
        payload bytea NOT NULL,
        priority integer NOT NULL,
        available_at bigint NOT NULL,
        enqueued_at bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        seq bigserial NOT NULL,
        lease_id text,
        lease_expires_at bigint,
        partition_key text,
        PRIMARY KEY (queue_name, id)
      );
      -- Claims walk this index in claim order and skip items that are not due yet.
      CREATE INDEX queue_items_claim ON ${s}.queue_items (queue_name, priority DESC, available_at, seq);
      CREATE INDEX queue_items_partition ON ${s}.queue_items
        (queue_name, partition_key, priority DESC, available_at, seq) WHERE partition_key IS NOT NULL;`,
  },
];

/** The newest schema version this package knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Creates `schema` and brings it to {@link SCHEMA_VERSION}. Idempotent, and safe when several
 * processes start at once: the whole migration runs in one transaction under an advisory lock
 * keyed by the schema name, so the second process waits and then finds nothing to do.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toTroupeError(`postgres: migrating schema "${schema}"`, error);
  }
  let failed: unknown;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `troupe.migrate:${schema}`,
    ]);
    // Creating a schema that exists still needs the CREATE privilege; check first so a schema
    // made in advance by an administrator works for a less privileged user.
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.troupe_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const applied = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${s}.troupe_migrations`,
    );
    const current = applied.rows[0]?.version ?? 0;
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql(s, schema));
      await client.query(`INSERT INTO ${s}.troupe_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    await client.query("COMMIT");
  } catch (error) {
    failed = error;
    await client.query("ROLLBACK").catch(() => undefined);
    throw toTroupeError(`postgres: migrating schema "${schema}"`, error);
  } finally {
    // Only a broken connection must leave the pool; after a ROLLBACK the client is reusable.
    client.release(isConnectionError(failed) ? (failed as Error) : undefined);
  }
}

/**
 * Runs {@link migrate} once per handle: the first call starts it, later calls share the result;
 * after a failure the next call tries again.
 */
export function migrateOnce(pool: pg.Pool, schema: string): () => Promise<void> {
  let pending: Promise<void> | undefined;
  return () => {
    pending ??= migrate(pool, schema).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
