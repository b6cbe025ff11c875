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
import { type AdapterImporter, importAdapter, loadAdapter } from "./adapter-loader.js";
import { deferPubSub, deferQueue, deferStore, withStorePairing } from "./deferred-ports.js";

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
  /**
   * How adapter packages are imported. Default the runtime's own `import()`: `@troupe/sqlite`,
   * `@troupe/postgres` or `@troupe/redis` is loaded only when the URL names its engine.
   */
  readonly importer?: AdapterImporter;
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
  /**
   * Resolves once the adapter package is loaded and its ports are open; rejects with what
   * stopped it (`UNAVAILABLE`: `install @troupe/postgres to use postgres:// URLs`). The ports
   * can be used before: each call waits for it.
   */
  ready(): Promise<void>;
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

/** The ports of one engine once its adapter package is loaded. */
interface OpenedEngine {
  readonly store: Store;
  readonly queue: Queue;
  readonly pubsub: PubSub;
  openQueue(queueName: string): Queue;
  /** Closes the three ports (not the extra queues) and what they share. */
  close(): Promise<void>;
}

interface EngineSettings {
  readonly url: string;
  readonly schema: string | undefined;
  readonly prefix: string | undefined;
  readonly queueName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly importer: AdapterImporter;
  readonly synchronous: "normal" | "full" | undefined;
}

function openMemory(clock: Clock): OpenedEngine {
  const store = createMemoryStore();
  const queue = createMemoryQueue({ clock });
  const pubsub = createMemoryPubSub();
  return {
    store,
    queue,
    pubsub,
    // Each memory queue is its own; the name only matters to shared engines.
    openQueue: () => createMemoryQueue({ clock }),
    close: () => closeAll([pubsub, queue, store]),
  };
}

/** The file of a `sqlite:` URL, its folder created when missing. */
function prepareSqliteFile(url: string): string {
  const file = sqlitePath(url);
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
  return file;
}

async function openSqlite(file: string, settings: EngineSettings): Promise<OpenedEngine> {
  const { openSqliteDatabase, createSqliteStore, createSqliteQueue, createSqlitePubSub } =
    await loadAdapter("@troupe/sqlite", "sqlite: URLs", settings.importer);
  const { queueName, clock, logger } = settings;
  const database = openSqliteDatabase(
    file,
    settings.synchronous === undefined ? {} : { synchronous: settings.synchronous },
  );
  const store = createSqliteStore({ database });
  const queue = createSqliteQueue({ database, queueName, clock });
  const pubsub = createSqlitePubSub({ database, logger });
  return {
    store,
    queue,
    pubsub,
    openQueue: (name) => createSqliteQueue({ database, queueName: name, clock }),
    async close() {
      await closeAll([pubsub, queue, store]);
      // Adapters never close a connection they were given.
      database.close();
    },
  };
}

async function openPostgres(settings: EngineSettings): Promise<OpenedEngine> {
  const { createPostgresStore, createPostgresQueue, createPostgresPubSub } = await loadAdapter(
    "@troupe/postgres",
    "postgres:// URLs",
    settings.importer,
  );
  const { url, schema, queueName, clock, logger } = settings;
  const connection = { connectionString: url, logger, ...(schema ? { schema } : {}) };
  const openQueue = (name: string) =>
    createPostgresQueue({ ...connection, queueName: name, clock });
  return ownConnections({
    store: createPostgresStore(connection),
    queue: openQueue(queueName),
    pubsub: createPostgresPubSub({ connectionString: url, logger }),
    openQueue,
  });
}

async function openRedis(settings: EngineSettings): Promise<OpenedEngine> {
  const { createRedisStore, createRedisQueue, createRedisPubSub } = await loadAdapter(
    "@troupe/redis",
    "redis:// URLs",
    settings.importer,
  );
  const { url, prefix, queueName, clock, logger } = settings;
  const connection = { url, logger, ...(prefix ? { prefix } : {}) };
  const openQueue = (name: string) => createRedisQueue({ ...connection, queueName: name, clock });
  return ownConnections({
    store: createRedisStore(connection),
    queue: openQueue(queueName),
    pubsub: createRedisPubSub(connection),
    openQueue,
  });
}

/** An engine whose ports each own their connection (PostgreSQL, Redis): closing closes the three. */
function ownConnections(ports: Omit<OpenedEngine, "close">): OpenedEngine {
  const { store, queue, pubsub } = ports;
  return { ...ports, close: () => closeAll([pubsub, queue, store]) };
}

/**
 * Opens the Store, Queue and PubSub the URL names. The URL is checked at once (a bad one throws
 * here); the adapter package is imported in the background, and the ports wait for it on first
 * use (see {@link RuntimeStorage.ready}). On SQLite the three share one connection to the file
 * (created with its folder when missing). On PostgreSQL and Redis each adapter opens its own
 * connection; nothing is contacted until the first operation.
 */
export function openStorage(options: StorageOptions): RuntimeStorage {
  const kind = storageKind(options.url);
  const settings: EngineSettings = {
    url: options.url,
    schema: options.schema,
    prefix: options.prefix,
    queueName: options.queueName ?? "troupe",
    clock: options.clock ?? systemClock,
    logger: options.logger ?? noopLogger,
    importer: options.importer ?? importAdapter,
    synchronous: options.synchronous,
  };
  const opening: Promise<OpenedEngine> =
    kind === "memory"
      ? Promise.resolve(openMemory(settings.clock))
      : kind === "sqlite"
        ? openSqlite(prepareSqliteFile(options.url), settings)
        : kind === "postgres"
          ? openPostgres(settings)
          : openRedis(settings);
  const extra: Queue[] = [];
  const store = deferStore(
    kind,
    opening.then((engine) => engine.store),
  );
  const queue = deferQueue(
    kind,
    settings.queueName,
    opening.then((engine) => engine.queue),
  );
  return {
    kind,
    displayUrl: redactUrl(options.url),
    store,
    // PostgreSQL's queue and store share the connection settings, so they commit together.
    queue: kind === "postgres" ? withStorePairing(queue, store, opening) : queue,
    pubsub: deferPubSub(
      kind,
      opening.then((engine) => engine.pubsub),
    ),
    openQueue: (name) =>
      track(
        extra,
        deferQueue(
          kind,
          name,
          opening.then((engine) => engine.openQueue(name)),
        ),
      ),
    ready: () => opening.then(() => undefined),
    async close() {
      let failure: unknown;
      try {
        await closeAll(extra);
      } catch (error) {
        failure = error;
      }
      // An engine that never opened (its package is missing) holds nothing to close.
      await opening
        .then(
          (engine) => engine.close(),
          () => undefined,
        )
        .catch((error: unknown) => {
          failure ??= error;
        });
      if (failure !== undefined) throw failure;
    },
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
