import { connect, type NatsConnection } from "@nats-io/transport-node";
import { invalidArgument, type Logger, noopLogger, parseWith, TroupeError } from "@troupe/core";
import { z } from "zod";

/** A NATS subject prefix: dot-separated tokens of letters, digits, `_` and `-`. */
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** The fields a connection-like object must have; checked so a wrong value fails at construction. */
function isNatsConnection(value: unknown): value is NatsConnection {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.request === "function" &&
    typeof candidate.subscribe === "function" &&
    typeof candidate.publish === "function" &&
    typeof candidate.flush === "function"
  );
}

function isLogger(value: unknown): value is Logger {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.error === "function" && typeof candidate.warn === "function";
}

/** Options shared by the NATS Transport and PubSub. */
export const connectionOptionsShape = {
  servers: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
      error: "expected a server URL or a non-empty array of them",
    })
    .optional(),
  connection: z
    .custom<NatsConnection>(isNatsConnection, { error: "expected a NatsConnection" })
    .optional(),
  subjectPrefix: z
    .string({ error: "expected a string" })
    .max(128, { error: "must be at most 128 characters" })
    .regex(SUBJECT_PREFIX, {
      error: "expected dot-separated tokens of letters, digits, _ and - (no wildcards)",
    })
    .default("troupe"),
  connectionName: z.string().min(1).max(256).optional(),
  logger: z.custom<Logger>(isLogger, { error: "expected a Logger" }).optional(),
};

/**
 * Parses `input` with `schema`, turning the first zod issue into an INVALID_ARGUMENT error that
 * names the option, and enforces that exactly one of `servers` and `connection` is given.
 */
export function parseOptions<T extends { servers?: unknown; connection?: unknown }>(
  schema: z.ZodType<T>,
  input: unknown,
  what: string,
): T {
  if (typeof input !== "object" || input === null) {
    throw invalidArgument("options", `${what} needs an options object`);
  }
  // Options are named alone (`servers`), as users write them; a bad whole object is `options`.
  const options = parseWith(schema, input, "", { wholeValueField: "options" });
  if ((options.servers === undefined) === (options.connection === undefined)) {
    throw invalidArgument(
      "servers",
      `${what} needs exactly one of \`servers\` (it connects itself) or \`connection\` (yours)`,
    );
  }
  return options;
}

/**
 * One NATS connection, either given by the caller (shared, never closed by us) or opened lazily
 * from `servers` on first use (owned, drained on release). Lazy because the factories are
 * synchronous, as every Troupe adapter factory is.
 */
export interface ConnectionHolder {
  /** The connection, connecting first if needed; fails with UNAVAILABLE when the server cannot be reached. */
  get(): Promise<NatsConnection>;
  /** The connection when it is already open, without waiting (the hot path of every call). */
  current(): NatsConnection | undefined;
  /** Drains an owned connection (letting in-flight replies go out); leaves a shared one open. */
  release(): Promise<void>;
}

/** Makes a {@link ConnectionHolder} from validated options. */
export function createConnectionHolder(options: {
  readonly servers?: string | string[] | undefined;
  readonly connection?: NatsConnection | undefined;
  readonly connectionName?: string | undefined;
  readonly logger?: Logger | undefined;
}): ConnectionHolder {
  const shared = options.connection;
  if (shared) {
    return { get: async () => shared, current: () => shared, release: async () => {} };
  }
  const servers = options.servers ?? [];
  const logger = options.logger ?? noopLogger;
  let pending: Promise<NatsConnection> | undefined;
  let opened: NatsConnection | undefined;
  return {
    current: () => opened,
    get() {
      if (!pending) {
        pending = connect({
          servers,
          ...(options.connectionName === undefined ? {} : { name: options.connectionName }),
          // A Troupe node keeps trying to reach its bus rather than giving up for good after
          // the client's default of 10 attempts; callers see UNKNOWN_NODE or UNAVAILABLE meanwhile.
          maxReconnectAttempts: -1,
          // Our errors carry their own context; the client's per-request stack capture costs
          // an Error allocation on every request.
          noAsyncTraces: true,
        })
          .then((connection) => {
            opened = connection;
            return connection;
          })
          .catch((error: unknown) => {
            // Forget the failed attempt so a later call tries again.
            pending = undefined;
            throw new TroupeError(
              "UNAVAILABLE",
              `cannot connect to NATS at ${JSON.stringify(servers)}: ${describe(error)}`,
              { cause: error, details: { servers } },
            );
          });
      }
      return pending;
    },
    async release() {
      const connecting = pending;
      if (!connecting) return;
      let connection: NatsConnection;
      try {
        connection = await connecting;
      } catch {
        return;
      }
      if (connection.isClosed()) return;
      try {
        await connection.drain();
      } catch (error) {
        logger.warn("nats drain failed; closing", { error });
        await connection.close();
      }
    },
  };
}

/** The message of an unknown thrown value. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
