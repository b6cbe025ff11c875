import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  type Clock,
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  invalidArgument,
  type Logger,
  noopLogger,
  type PubSub,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createRedisPubSub, createRedisQueue, createRedisStore } from "@troupe/redis";
import {
  createSqlitePubSub,
  createSqliteQueue,
  createSqliteStore,
  openSqliteDatabase,
} from "@troupe/sqlite";

/** The storage engines a URL can name. */
export type StorageKind = "sqlite" | "postgres" | "redis" | "memory";

/** What {@link openStorage} needs besides the URL. */
export interface StorageOptions {
  /** `sqlite:<path>`, `sqlite::memory:`, `memory:`, `postgres://…`, `postgresql://…`, `redis://…`, `rediss://…`. */
  readonly url: string;
  /** PostgreSQL schema. Default `troupe`. */
  readonly schema?: string | undefined;
  /** Redis key prefix. Default `troupe:`. */
  readonly prefix?: string | undefined;
  /** Queue name shared by the engines on this storage. Default `troupe`. */
  readonly queueName?: string;
  /** The queue's clock. Default the system clock. */
  readonly clock?: Clock;
  /** Adapter warnings (lost connections, handler errors). */
  readonly logger?: Logger;
  /** SQLite only: `full` fsyncs every commit, `normal` (the adapter's default) does not. */
  readonly synchronous?: "normal" | "full" | undefined;
}

/** A Store, Queue and PubSub on one engine, and how to close them. */
export interface RuntimeStorage {
  /** Which engine. */
  readonly kind: StorageKind;
  /** The URL with any password replaced by `***`, fit for logs. */
  readonly displayUrl: string;
  /** The Store. */
  readonly store: Store;
  /** The Queue. */
  readonly queue: Queue;
  /** The PubSub. */
  readonly pubsub: PubSub;
  /**
   * Another Queue on the same engine (and connection, on SQLite) under its own name, closed with
   * the storage: for work the flows worker must not claim (e.g. actor reminders).
   */
  openQueue(queueName: string): Queue;
  /** Closes the adapters (and the SQLite connection they share). */
  close(): Promise<void>;
}

/** `postgres://user:secret@host` → `postgres://user:***@host`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, "$1***@");
}

/**
 * The kind a storage URL names, or a `TroupeError` naming `storage.url` when the scheme is not
 * one Troupe knows.
 */
export function storageKind(url: string): StorageKind {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "sqlite":
      return "sqlite";
    case "memory":
      return "memory";
    case "postgres":
    case "postgresql":
      return "postgres";
    case "redis":
    case "rediss":
      return "redis";
    default:
      throw invalidArgument(
        "storage.url",
        `${scheme === undefined ? "no scheme in" : `unknown scheme "${scheme}:" in`} ${JSON.stringify(redactUrl(url))}; expected sqlite:<path>, sqlite::memory:, memory:, postgres://…, postgresql://… or redis://…`,
      );
  }
}

/** The file a `sqlite:` URL names (`":memory:"` for an in-memory database). */
export function sqlitePath(url: string): string {
  // `sqlite:./x.db`, `sqlite:/abs/x.db`, `sqlite://./x.db` and `sqlite:///abs/x.db` all work.
  const rest = url.slice("sqlite:".length).replace(/^\/\//, "");
  if (rest === "") throw invalidArgument("storage.url", 'expected a path after "sqlite:"');
  return rest;
}

/**
 * Opens the Store, Queue and PubSub the URL names. On SQLite the three share one connection to
 * the file (created with its folder when missing). On PostgreSQL and Redis each adapter opens its
 * own connection; nothing is contacted until the first operation.
 */
export function openStorage(options: StorageOptions): RuntimeStorage {
  const kind = storageKind(options.url);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const queueName = options.queueName ?? "troupe";
  const displayUrl = redactUrl(options.url);
  if (kind === "memory") {
    const store = createMemoryStore();
    const queue = createMemoryQueue({ clock });
    const pubsub = createMemoryPubSub();
    const extra: Queue[] = [];
    return {
      kind,
      displayUrl,
      store,
      queue,
      pubsub,
      // Each memory queue is its own; the name only matters to shared engines.
      openQueue: () => track(extra, createMemoryQueue({ clock })),
      close: () => closeAll([...extra, pubsub, queue, store]),
    };
  }
  if (kind === "sqlite") {
    const file = sqlitePath(options.url);
    if (file !== ":memory:") {
      try {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      } catch (error) {
        throw invalidArgument(
          "storage.url",
          `cannot create the folder of ${file}: ${(error as Error).message}`,
        );
      }
    }
    const database = openSqliteDatabase(
      file,
      options.synchronous === undefined ? {} : { synchronous: options.synchronous },
    );
    const store = createSqliteStore({ database });
    const queue = createSqliteQueue({ database, queueName, clock });
    const pubsub = createSqlitePubSub({ database, logger });
    const extra: Queue[] = [];
    return {
      kind,
      displayUrl,
      store,
      queue,
      pubsub,
      openQueue: (name) => track(extra, createSqliteQueue({ database, queueName: name, clock })),
      async close() {
        await closeAll([...extra, pubsub, queue, store]);
        // Adapters never close a connection they were given.
        database.close();
      },
    };
  }
  if (kind === "postgres") {
    const schema = options.schema;
    const connection = { connectionString: options.url, logger, ...(schema ? { schema } : {}) };
    const store = createPostgresStore(connection);
    const queue = createPostgresQueue({ ...connection, queueName, clock });
    const pubsub = createPostgresPubSub({ connectionString: options.url, logger });
    const extra: Queue[] = [];
    return {
      kind,
      displayUrl,
      store,
      queue,
      pubsub,
      openQueue: (name) =>
        track(extra, createPostgresQueue({ ...connection, queueName: name, clock })),
      close: () => closeAll([...extra, pubsub, queue, store]),
    };
  }
  const prefix = options.prefix;
  const connection = { url: options.url, logger, ...(prefix ? { prefix } : {}) };
  const store = createRedisStore(connection);
  const queue = createRedisQueue({ ...connection, queueName, clock });
  const pubsub = createRedisPubSub(connection);
  const extra: Queue[] = [];
  return {
    kind,
    displayUrl,
    store,
    queue,
    pubsub,
    openQueue: (name) => track(extra, createRedisQueue({ ...connection, queueName: name, clock })),
    close: () => closeAll([...extra, pubsub, queue, store]),
  };
}

function track(extra: Queue[], queue: Queue): Queue {
  extra.push(queue);
  return queue;
}

/** Closes in order, every one even when an earlier one fails; rethrows the first failure. */
async function closeAll(closables: readonly { close(): Promise<void> }[]): Promise<void> {
  let failure: unknown;
  for (const closable of closables) {
    try {
      await closable.close();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}
