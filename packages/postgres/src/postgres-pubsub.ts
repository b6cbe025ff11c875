import { createHash } from "node:crypto";
import {
  closedError,
  invalidArgument,
  type Logger,
  type MessageHandler,
  noopLogger,
  type PubSub,
  TroupeError,
  validateChannel,
} from "@troupe/core";
import pg from "pg";
import { z } from "zod";
import { openPool, parseOptions, quoteIdent, runQuery, toTroupeError } from "./connection.js";

/**
 * The largest message `publish` accepts, in bytes. PostgreSQL's NOTIFY payload must be shorter
 * than 8000 bytes, and messages travel base64-encoded (4 characters per 3 bytes):
 * 4 × ⌈5997 / 3⌉ = 7996 characters fit, 5998 bytes would need 8000.
 */
export const POSTGRES_MAX_MESSAGE_BYTES = 5997;

// PostgreSQL truncates identifiers (and so channel names) to 63 bytes.
const MAX_IDENTIFIER_BYTES = 63;

/** Options of {@link createPostgresPubSub}. */
export interface PostgresPubSubOptions {
  /** A PostgreSQL URL. The pub/sub holds one connection for LISTEN and one for publishing. */
  readonly connectionString: string;
  /**
   * Prepended to every channel name, so deployments sharing a database do not hear each other.
   * Letters, digits and `._-:/`, at most 30 characters. Default "troupe:".
   */
  readonly channelPrefix?: string;
  /** Where handler errors and reconnects are reported. Default: discarded. */
  readonly logger?: Logger;
  /** Longest wait between attempts to reconnect the listening connection, in ms. Default 5000. */
  readonly maxReconnectDelayMs?: number;
}

const optionsSchema = z.strictObject({
  connectionString: z.string().min(1),
  channelPrefix: z
    .string()
    .max(30)
    .regex(/^[A-Za-z0-9._:/-]*$/, "may hold only letters, digits and . _ - : /")
    .optional(),
  logger: z.custom<Logger>((value) => typeof value === "object" && value !== null).optional(),
  maxReconnectDelayMs: z.number().int().positive().optional(),
});

interface Subscription {
  readonly channel: string;
  readonly handlers: Set<MessageHandler>;
  /**
   * Settles once the channel's LISTEN has run. Every subscriber of the channel waits for it, so
   * none is told it is live while the LISTEN is still on its way (a message published then would
   * reach nobody).
   */
  readonly live: Promise<void>;
}

/**
 * A {@link PubSub} on PostgreSQL LISTEN/NOTIFY. Messages are base64 text in the NOTIFY payload
 * and at most {@link POSTGRES_MAX_MESSAGE_BYTES} bytes. Channel names become PostgreSQL channel
 * identifiers (`prefix + channel`, or `prefix + "#" + hash` when that would pass 63 bytes).
 * One connection LISTENs for every subscription and is reconnected (re-LISTENing every channel)
 * when it drops; messages published meanwhile are lost, as the port allows. Publishing goes
 * through a one-connection pool, so one publisher's messages keep their order.
 */
export function createPostgresPubSub(options: PostgresPubSubOptions): PubSub {
  const parsed = parseOptions("createPostgresPubSub", optionsSchema, options);
  const prefix = parsed.channelPrefix ?? "troupe:";
  const logger = parsed.logger ?? noopLogger;
  const maxDelay = parsed.maxReconnectDelayMs ?? 5000;
  const what = "postgres pubsub";
  const publisher = openPool("createPostgresPubSub", parsed, logger, 1);
  const subscriptions = new Map<string, Subscription>();
  let closed = false;
  let listener: Promise<pg.Client> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const identifier = (channel: string) => {
    const plain = `${prefix}${channel}`;
    if (Buffer.byteLength(plain, "utf8") <= MAX_IDENTIFIER_BYTES) return plain;
    // "#" cannot appear in a channel name, so a hashed name never equals a plain one.
    const digest = createHash("sha256").update(channel).digest("base64url");
    return `${prefix}#${digest}`.slice(0, MAX_IDENTIFIER_BYTES);
  };

  const deliver = (message: pg.Notification) => {
    const subscription = subscriptions.get(message.channel);
    if (!subscription) return;
    const bytes = new Uint8Array(Buffer.from(message.payload ?? "", "base64"));
    for (const handler of [...subscription.handlers]) {
      Promise.resolve()
        .then(() => handler(bytes.slice(), subscription.channel))
        .catch((error: unknown) =>
          logger.error("pubsub handler failed", { channel: subscription.channel, error }),
        );
    }
  };

  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: parsed.connectionString,
      connectionTimeoutMillis: 10_000,
    });
    client.on("notification", deliver);
    client.on("error", (error) => {
      logger.warn("postgres pubsub: the listening connection failed", { error });
      dropListener(client);
    });
    client.on("end", () => dropListener(client));
    await client.connect();
    for (const name of subscriptions.keys()) await client.query(`LISTEN ${quoteIdent(name)}`);
    return client;
  };

  // Forgets a broken listening connection and, while anyone is subscribed, reconnects with a
  // growing delay until it works.
  let current: pg.Client | undefined;
  const dropListener = (client: pg.Client) => {
    if (current !== client) return;
    current = undefined;
    listener = undefined;
    client.end().catch(() => undefined);
    if (!closed && subscriptions.size > 0) scheduleReconnect(100);
  };
  const scheduleReconnect = (delayMs: number) => {
    if (reconnectTimer || closed) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      ensureListener().then(
        () => logger.info("postgres pubsub: listening connection restored"),
        (error: unknown) => {
          logger.warn("postgres pubsub: reconnecting failed", { error });
          scheduleReconnect(Math.min(delayMs * 2, maxDelay));
        },
      );
    }, delayMs);
    reconnectTimer.unref();
  };
  const ensureListener = (): Promise<pg.Client> => {
    if (closed) return Promise.reject(closedError(what));
    if (!listener) {
      const attempt = connect().then(
        (client) => {
          if (closed) {
            client.end().catch(() => undefined);
            throw closedError(what);
          }
          current = client;
          return client;
        },
        (error: unknown) => {
          if (listener === attempt) listener = undefined;
          throw toTroupeError(what, error);
        },
      );
      listener = attempt;
    }
    return listener;
  };

  // Runs LISTEN/UNLISTEN on the listening connection; when that connection breaks underneath,
  // waits for a fresh one (which re-LISTENs every channel itself) for a few attempts.
  const onListener = async (statement: string) => {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const client = await ensureListener();
      try {
        await client.query(statement);
        return;
      } catch (error) {
        lastError = error;
        dropListener(client);
      }
    }
    throw toTroupeError(what, lastError);
  };

  return {
    name: "postgres",
    async publish(channel, message) {
      if (closed) throw closedError(what);
      validateChannel(channel);
      if (!(message instanceof Uint8Array)) {
        throw invalidArgument("message", "expected a Uint8Array");
      }
      if (message.byteLength > POSTGRES_MAX_MESSAGE_BYTES) {
        throw invalidArgument(
          "message",
          `is ${message.byteLength} bytes; PostgreSQL NOTIFY carries at most ${POSTGRES_MAX_MESSAGE_BYTES} bytes per message`,
          { limit: POSTGRES_MAX_MESSAGE_BYTES },
        );
      }
      const payload = Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString(
        "base64",
      );
      await runQuery(
        publisher.pool,
        what,
        {
          name: "troupe_notify",
          text: "SELECT pg_notify($1, $2)",
          values: [identifier(channel), payload],
        },
        false,
      );
    },
    async subscribe(channel, handler) {
      if (closed) throw closedError(what);
      validateChannel(channel);
      if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
      const name = identifier(channel);
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const wrapped: MessageHandler = (message, from) => handler(message, from);
      const listen = () => onListener(`LISTEN ${quoteIdent(name)}`);
      let subscription = subscriptions.get(name);
      let ready: Promise<void>;
      if (!subscription) {
        subscription = { channel, handlers: new Set(), live: listen() };
        subscriptions.set(name, subscription);
        ready = subscription.live;
      } else {
        // While the listening connection is being replaced, LISTEN again on the new one.
        ready = current ? subscription.live : listen();
      }
      const owned = subscription;
      owned.handlers.add(wrapped);
      try {
        await ready;
      } catch (error) {
        owned.handlers.delete(wrapped);
        // A failed LISTEN leaves nothing to join: later subscribers start afresh.
        if (
          subscriptions.get(name) === owned &&
          (owned.handlers.size === 0 || ready === owned.live)
        )
          subscriptions.delete(name);
        throw error;
      }
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        owned.handlers.delete(wrapped);
        if (owned.handlers.size > 0 || subscriptions.get(name) !== owned) return;
        subscriptions.delete(name);
        if (closed || !current) return;
        await current.query(`UNLISTEN ${quoteIdent(name)}`).catch((error: unknown) => {
          logger.warn("postgres pubsub: UNLISTEN failed", { channel, error });
        });
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      subscriptions.clear();
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const client = current;
      current = undefined;
      listener = undefined;
      await Promise.all([
        client?.end().catch(() => undefined),
        publisher.release().catch((error: unknown) => {
          throw new TroupeError("INTERNAL", `${what}: closing the publisher failed`, {
            cause: error,
          });
        }),
      ]);
    },
  };
}
