import { createHash } from "node:crypto";
import { invalidArgument, type Logger, parseWith, TroupeError } from "@troupe/core";
import pg from "pg";
import { z } from "zod";

/** PostgreSQL identifiers we create ourselves: lower-case, so they never need case folding. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export const schemaOption = z
  .string()
  .regex(SCHEMA_PATTERN, "expected 1-63 characters of a-z, 0-9 and _, not starting with a digit");

/** The connection part shared by the Store and Queue options. */
export const connectionOptions = {
  connectionString: z.string().min(1).optional(),
  pool: z.instanceof(pg.Pool).optional(),
  schema: schemaOption.optional(),
  logger: z.custom<Logger>((value) => typeof value === "object" && value !== null).optional(),
};

/**
 * Parses `options` with `schema`, turning the first zod issue into an INVALID_ARGUMENT error that
 * names the option (`createPostgresStore.options.schema: ...`).
 */
export function parseOptions<T>(where: string, schema: z.ZodType<T>, options: unknown): T {
  return parseWith(schema, options, `${where}.options`);
}

/** A pool, and how to let go of it (ending it only when we opened it). */
export interface PoolHandle {
  readonly pool: pg.Pool;
  /** Detaches our listener; ends the pool when we opened it. */
  release(): Promise<void>;
}

/**
 * Uses the caller's pool, or opens one on `connectionString`. Either way an `error` listener is
 * attached: pg emits `error` on the pool when an idle client's backend dies, and an unhandled
 * `error` event would crash the process.
 */
export function openPool(
  where: string,
  options: { connectionString?: string | undefined; pool?: pg.Pool | undefined },
  logger: Logger,
  max?: number,
): PoolHandle {
  if ((options.connectionString === undefined) === (options.pool === undefined)) {
    throw invalidArgument(
      `${where}.options.connectionString`,
      "give exactly one of connectionString or pool",
    );
  }
  // A bounded connect timeout, so an unreachable server fails operations with UNAVAILABLE
  // instead of leaving them waiting forever (pg's default).
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      connectionTimeoutMillis: 10_000,
      ...(max ? { max } : {}),
    });
  const onError = (error: Error) =>
    logger.warn("postgres: an idle connection failed and was dropped", { error });
  pool.on("error", onError);
  const owned = options.pool === undefined;
  return {
    pool,
    async release() {
      if (owned) await pool.end();
      pool.off("error", onError);
    },
  };
}

// SQLSTATE classes and codes that mean the connection (not the statement) failed.
const CONNECTION_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
const NODE_CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

/** True when `error` says the connection broke (rather than the statement being wrong). */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || CONNECTION_CODES.has(code) || NODE_CONNECTION_CODES.has(code)) {
      return true;
    }
  }
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === "string" &&
    /Connection terminated|not queryable|connection error|timeout exceeded when trying to connect/i.test(
      message,
    )
  );
}

/**
 * True when a failed query certainly never reached the server (the client was already dead), so
 * running it again cannot apply it twice.
 */
export function neverSent(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && /not queryable/i.test(message);
}

/** Wraps a connection failure as UNAVAILABLE; other errors pass through unchanged. */
export function toTroupeError(what: string, error: unknown): unknown {
  if (TroupeError.isInstance(error)) return error;
  if (isConnectionError(error)) {
    return new TroupeError(
      "UNAVAILABLE",
      `${what}: the PostgreSQL connection failed (${(error as Error).message}); the operation may or may not have taken effect if it was a write, retry it once the server is reachable`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Runs `query` on the pool. Connection failures become UNAVAILABLE; a read (`idempotent`), or any
 * query that never reached the server, is retried once on a fresh connection first, so a backend
 * killed while idle in the pool does not fail the next operation.
 */
export async function runQuery<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  what: string,
  config: pg.QueryConfig,
  idempotent: boolean,
): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(config);
  } catch (error) {
    if (isConnectionError(error) && (idempotent || neverSent(error))) {
      try {
        return await pool.query<R>(config);
      } catch (second) {
        throw toTroupeError(what, second);
      }
    }
    throw toTroupeError(what, error);
  }
}

/** Double-quotes an identifier for SQL (our identifiers never hold quotes, but be safe). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Names already worked out, by statement text. Texts come from a fixed family per store and queue
 * (a list builds one of a few shapes per call), so the map stays small; it is cleared if it ever
 * grows past {@link MAX_NAMES} all the same.
 */
const names = new Map<string, string>();
const MAX_NAMES = 1000;

/** A short stable name for a prepared statement (PostgreSQL truncates names to 63 bytes). */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `troupe_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    if (names.size >= MAX_NAMES) names.clear();
    names.set(text, name);
  }
  return name;
}

/** A named (prepared once per connection) query config. */
export function prepared(text: string): (values: unknown[]) => pg.QueryConfig {
  const name = statementName(text);
  return (values) => ({ name, text, values });
}
