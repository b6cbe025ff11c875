import { invalidArgument, type Logger, noopLogger, parseWith, TroupeError } from "@troupe/core";
import { Redis, type RedisOptions } from "ioredis";
import { z } from "zod";

/**
 * The ioredis settings every connection the adapters open uses, and that a client passed in
 * through the `client` option must share.
 *
 * `maxRetriesPerRequest: 0` makes ioredis reject a command that was in flight when the
 * connection dropped, instead of sending it again after reconnecting (its default). A resent
 * commit, claim or ack could apply twice: a commit that did land would be replayed and fail its
 * own guard, a claim would lease a second batch. Commands issued while reconnecting still wait in
 * the offline queue and go out once the connection is back; they fail only if that reconnect
 * attempt fails too.
 */
export const troupeRedisOptions = {
  maxRetriesPerRequest: 0,
  enableOfflineQueue: true,
  autoResubscribe: true,
} as const satisfies RedisOptions;

/** The connection options every factory takes: exactly one of `url` or `client`. */
export interface RedisConnectionOptions {
  /** A `redis://` or `rediss://` URL; the adapter opens (and on close, quits) its own connection. */
  readonly url?: string;
  /**
   * An ioredis client to use instead of a URL; the adapter never quits it. It must have been made
   * with `maxRetriesPerRequest: 0` (spread {@link troupeRedisOptions} into its options).
   */
  readonly client?: Redis;
  /** Where connection errors are reported. Default: discarded. */
  readonly logger?: Logger;
}

const isRedisClient = (value: unknown): value is Redis =>
  value instanceof Redis ||
  (typeof value === "object" &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === "function" &&
    typeof (value as { duplicate?: unknown }).duplicate === "function");

const isLogger = (value: unknown): value is Logger =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { error?: unknown }).error === "function" &&
  typeof (value as { warn?: unknown }).warn === "function";

/** The zod shape of {@link RedisConnectionOptions}, shared by the three factories. */
export const connectionShape = {
  url: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'expected a URL starting with "redis://" or "rediss://"')
    .optional(),
  client: z.custom<Redis>(isRedisClient, "expected an ioredis client").optional(),
  logger: z.custom<Logger>(isLogger, "expected a Logger").optional(),
};

/**
 * A key prefix: every key the adapter writes starts with it, so deployments can share one Redis.
 * An empty hash tag `{}` would make Redis Cluster hash each whole key, splitting a store's keys
 * across slots, so it is refused.
 */
export const prefixSchema = z
  .string()
  .max(200, "must be at most 200 characters")
  .refine((value) => !value.includes("{}"), 'must not contain an empty hash tag "{}"');

/**
 * Parses factory options with `schema`, turning the first zod issue into a TroupeError
 * INVALID_ARGUMENT that names the option.
 */
export function parseOptions<T>(factory: string, schema: z.ZodType<T>, options: unknown): T {
  return parseWith(schema, options ?? {}, factory);
}

/** One adapter's use of a Redis connection. */
export interface Connection {
  /** The client to send commands on. */
  readonly client: Redis;
  /** Where the connection is, for error messages (no password). */
  readonly where: string;
  /** Reports errors the client emits. */
  readonly logger: Logger;
  /** Quits the client if the adapter opened it; idempotent. */
  close(): Promise<void>;
}

function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  } catch {
    return "redis";
  }
}

/**
 * Opens a connection from validated options. `factory` names the caller in errors.
 */
export function openConnection(factory: string, options: RedisConnectionOptions): Connection {
  const logger = options.logger ?? noopLogger;
  if ((options.url === undefined) === (options.client === undefined)) {
    throw invalidArgument(`${factory}.url`, "give exactly one of `url` or `client`");
  }
  if (options.client !== undefined) {
    const client = options.client;
    if (client.options.maxRetriesPerRequest !== 0) {
      throw invalidArgument(
        `${factory}.client`,
        "the ioredis client must be created with maxRetriesPerRequest: 0 (spread troupeRedisOptions into its options), so a command in flight when the connection drops fails instead of being sent twice",
      );
    }
    return {
      client,
      where: `${client.options.host ?? "redis"}:${client.options.port ?? 6379}`,
      logger,
      close: async () => {},
    };
  }
  const url = options.url as string;
  const where = describeUrl(url);
  const client = new Redis(url, { ...troupeRedisOptions, lazyConnect: false });
  watchErrors(client, where, logger);
  return { client, where, logger, close: () => quitClient(client) };
}

/** Forwards the client's `error` events to the logger (ioredis prints them otherwise). */
export function watchErrors(client: Redis, where: string, logger: Logger): void {
  client.on("error", (error: unknown) => {
    logger.warn("redis connection error", { where, error });
  });
}

/** Quits `client` politely when connected, or drops it when not (quit would wait to connect). */
export async function quitClient(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** True when `error` is a Redis reply that means "try again later" rather than a bug. */
function isTransientReply(error: Error): boolean {
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
}

/** True when `error` came from the connection (dropped, refused, aborted), not from a command. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ReplyError") return isTransientReply(error);
  // ioredis rejects in-flight and queued commands with these when the connection goes away.
  if (error.name === "MaxRetriesPerRequestError" || error.name === "AbortError") return true;
  if (/Connection is closed|Stream isn't writeable|Socket timeout/.test(error.message)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** How many more times a read is sent after its connection dropped. */
const READ_RETRIES = 2;

/**
 * Runs one adapter operation. A connection failure becomes a TroupeError UNAVAILABLE (with the
 * ioredis error as `cause`); a read is first tried again, since the command goes
 * out again only once the connection is back. Writes are never retried here: their outcome is
 * unknown when the connection drops mid-flight (see README, "Reconnects").
 */
export async function runOperation<T>(
  connection: Connection,
  operation: string,
  kind: "read" | "write",
  run: () => Promise<T>,
): Promise<T> {
  const retries = kind === "read" ? READ_RETRIES : 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (TroupeError.isInstance(error)) throw error;
      if (!isConnectionError(error)) {
        throw new TroupeError(
          "INTERNAL",
          `${operation}: Redis rejected the command: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      if (attempt < retries) continue;
      const outcome =
        kind === "write"
          ? " (the write may or may not have been applied; if it was, it was applied entirely)"
          : "";
      throw new TroupeError(
        "UNAVAILABLE",
        `${operation}: lost or could not reach the Redis connection to ${connection.where}: ${(error as Error).message}${outcome}`,
        { cause: error, details: { where: connection.where, operation } },
      );
    }
  }
}

/** A Lua script registered with `defineCommand`, called in its Buffer-returning form. */
export type ScriptCall = (...args: (string | Buffer | number)[]) => Promise<unknown>;

/**
 * Registers `lua` on `client` under `name` (ioredis then sends EVALSHA and falls back to EVAL
 * once when Redis has not cached the script yet) and returns its Buffer-replying caller.
 */
export function defineScript(
  client: Redis,
  name: string,
  numberOfKeys: number,
  lua: string,
): ScriptCall {
  client.defineCommand(name, { numberOfKeys, lua });
  const method = (client as unknown as Record<string, unknown>)[`${name}Buffer`];
  if (typeof method !== "function") {
    throw new TroupeError("INTERNAL", `ioredis did not define the script ${name}`);
  }
  return (...args) => (method as (...a: unknown[]) => Promise<unknown>).apply(client, args);
}
