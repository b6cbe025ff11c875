import {
  type Clock,
  closedError,
  invalidArgument,
  type Logger,
  type MessageHandler,
  noopLogger,
  type PubSub,
  systemClock,
  validateChannel,
} from "@troupe/core";
import { z } from "zod";
import {
  connect,
  connectionShape,
  databaseIdentity,
  mapSqliteError,
  parseOptions,
  type SqliteConnectionOptions,
  type SqliteDatabase,
} from "./database.js";

/** Options of {@link createSqlitePubSub}. */
export type SqlitePubSubOptions = SqliteConnectionOptions & {
  /**
   * How often subscribers check the file for messages from other connections and processes, in
   * ms. This is the worst-case latency across processes. Default 25.
   */
  readonly pollIntervalMs?: number;
  /**
   * How long published messages stay in the file for pollers to read, in ms. A subscriber that
   * does not poll within this window (a paused process) misses them. Default 60000.
   */
  readonly retentionMs?: number;
  /**
   * Deliver to subscribers in this process directly, without waiting for a poll. Default true.
   * (False makes every delivery go through the file, as across processes; for tests.)
   */
  readonly inProcessDelivery?: boolean;
  /** Where message timestamps (for pruning) come from. Default: the system clock. */
  readonly clock?: Clock;
  /** Where handler errors are reported. Default: discarded. */
  readonly logger?: Logger;
};

const optionsSchema = z.strictObject({
  ...connectionShape,
  pollIntervalMs: z.number().int().min(1).max(60_000).optional(),
  retentionMs: z.number().int().min(1).optional(),
  inProcessDelivery: z.boolean().optional(),
  clock: z
    .custom<Clock>(
      (value) => typeof value === "object" && value !== null && "now" in value,
      "expected a Clock",
    )
    .optional(),
  logger: z
    .custom<Logger>(
      (value) => typeof value === "object" && value !== null && "error" in value,
      "expected a Logger",
    )
    .optional(),
});

interface MessageRow {
  readonly seq: number;
  readonly channel: string;
  readonly payload: Buffer;
}

interface Subscription {
  readonly handler: MessageHandler;
  // Messages at or below this seq were published before the subscription went live.
  readonly afterSeq: number;
  active: boolean;
}

/** A message accepted by `publish`, waiting for its transaction. */
interface Outgoing {
  readonly channel: string;
  readonly message: Uint8Array;
  seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A PubSub instance as seen by its neighbours in the same process (same file). */
interface LocalPeer {
  deliverLocal(seq: number, channel: string, message: Uint8Array): void;
}

// PubSub instances in this process, by database file, for direct in-process delivery.
const localPeers = new Map<string | SqliteDatabase, Set<LocalPeer>>();

// Publishes per connection: PRAGMA data_version ignores a connection's own commits, so a poller
// also watches this count to see messages published through its own (shared) connection.
const connectionPublishes = new WeakMap<SqliteDatabase, number>();

const POLL_BATCH = 1000;
const PRUNE_EVERY_MS = 1000;

/**
 * A {@link PubSub} on a SQLite file. SQLite cannot notify other processes, so a published message
 * is appended to a table and subscribers poll it from the last sequence number they saw, every
 * `pollIntervalMs` (default 25 ms), which bounds latency across processes. A poll that finds
 * nothing new costs one `PRAGMA data_version` (no table read). Subscribers in the same process
 * on the same file get messages at once, without waiting for a poll. Messages published in one
 * synchronous stretch go in one transaction (each `publish` resolves once it committed). Rows
 * older than `retentionMs` are pruned by publishers and pollers.
 */
export function createSqlitePubSub(options: SqlitePubSubOptions): PubSub {
  const settings = parseOptions(optionsSchema, options, "options");
  const pollIntervalMs = settings.pollIntervalMs ?? 25;
  const retentionMs = settings.retentionMs ?? 60_000;
  const inProcessDelivery = settings.inProcessDelivery ?? true;
  const clock = settings.clock ?? systemClock;
  const logger = settings.logger ?? noopLogger;
  const { database, owned } = connect(settings, "options");
  const identity = databaseIdentity(database);

  const insertMessage = database.prepare<[string, Uint8Array, number]>(
    "INSERT INTO troupe_messages (channel, payload, created_at) VALUES (?, ?, ?)",
  );
  const selectAfter = database.prepare<[number, number], MessageRow>(
    "SELECT seq, channel, payload FROM troupe_messages WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const selectLastSeq = database
    .prepare<[], number>("SELECT coalesce(max(seq), 0) FROM troupe_messages")
    .pluck();
  const pruneBefore = database.prepare<[number]>(
    "DELETE FROM troupe_messages WHERE created_at < ?",
  );
  const dataVersion = database.prepare<[], number>("PRAGMA data_version").pluck();

  const channels = new Map<string, Set<Subscription>>();
  // Seqs already delivered in-process and not yet passed by the poller (so it skips them).
  const deliveredLocally = new Set<number>();
  let subscriptionCount = 0;
  let lastSeq = 0;
  let lastDataVersion = -1;
  let lastPublishCount = -1;
  let lastPruneAt = Number.NEGATIVE_INFINITY;
  let pollTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const dispatch = (subscription: Subscription, message: Uint8Array, channel: string) => {
    queueMicrotask(() => {
      if (!subscription.active) return;
      Promise.resolve()
        .then(() => subscription.handler(message.slice(), channel))
        .catch((error: unknown) => logger.error("pubsub handler failed", { channel, error }));
    });
  };
  const deliver = (seq: number, channel: string, message: Uint8Array) => {
    const subscriptions = channels.get(channel);
    if (!subscriptions) return;
    for (const subscription of subscriptions) {
      if (seq > subscription.afterSeq) dispatch(subscription, message, channel);
    }
  };
  const peer: LocalPeer = {
    deliverLocal(seq, channel, message) {
      if (closed || subscriptionCount === 0 || seq <= lastSeq) return;
      deliveredLocally.add(seq);
      deliver(seq, channel, message);
    },
  };

  const pruneIfDue = () => {
    const now = clock.now();
    if (now - lastPruneAt < PRUNE_EVERY_MS) return;
    lastPruneAt = now;
    pruneBefore.run(now - retentionMs);
  };

  const poll = () => {
    if (closed || subscriptionCount === 0) return;
    try {
      // data_version changes only when another connection committed: an idle poll reads no table.
      const version = dataVersion.get() as number;
      const publishCount = connectionPublishes.get(database) ?? 0;
      if (
        version !== lastDataVersion ||
        publishCount !== lastPublishCount ||
        deliveredLocally.size > 0
      ) {
        lastDataVersion = version;
        lastPublishCount = publishCount;
        for (;;) {
          const rows = selectAfter.all(lastSeq, POLL_BATCH);
          for (const row of rows) {
            lastSeq = row.seq;
            if (deliveredLocally.delete(row.seq)) continue;
            deliver(row.seq, row.channel, new Uint8Array(row.payload));
          }
          if (rows.length < POLL_BATCH) break;
        }
        // Anything left was pruned before we read it.
        for (const seq of deliveredLocally) if (seq <= lastSeq) deliveredLocally.delete(seq);
      }
      pruneIfDue();
    } catch (error) {
      logger.error("sqlite pubsub poll failed", { error: mapSqliteError(error, "polling") });
    }
  };
  const startPolling = () => {
    if (pollTimer) return;
    // Not keeping the process alive: a subscription is a wake-up signal, not work.
    pollTimer = setInterval(poll, pollIntervalMs);
    pollTimer.unref();
  };
  const stopPolling = () => {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = undefined;
  };

  const ensureOpen = () => {
    if (closed) throw closedError("sqlite pubsub");
  };
  const run = <T>(doing: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw mapSqliteError(error, doing);
    }
  };

  // Messages published in one synchronous stretch go in one transaction on the next microtask:
  // one WAL commit for all of them instead of one each (fewer pages written, so the WAL reaches
  // its checkpoint less often). Each publish resolves once its message is committed.
  let outbox: Outgoing[] = [];
  const insertAll = database.transaction((batch: readonly Outgoing[]) => {
    const now = clock.now();
    for (const each of batch) {
      each.seq = Number(insertMessage.run(each.channel, each.message, now).lastInsertRowid);
    }
  });
  const flushOutbox = () => {
    const batch = outbox;
    outbox = [];
    if (batch.length === 0) return;
    try {
      run("publishing", () => {
        insertAll(batch);
        connectionPublishes.set(database, (connectionPublishes.get(database) ?? 0) + batch.length);
        pruneIfDue();
      });
    } catch (error) {
      for (const each of batch) each.reject(error);
      return;
    }
    for (const each of batch) {
      if (inProcessDelivery) {
        for (const neighbour of localPeers.get(identity) ?? []) {
          neighbour.deliverLocal(each.seq, each.channel, each.message);
        }
      }
      each.resolve();
    }
  };

  let peers = localPeers.get(identity);
  if (!peers) {
    peers = new Set();
    localPeers.set(identity, peers);
  }
  peers.add(peer);

  return {
    name: "sqlite",
    async publish(channel, message) {
      ensureOpen();
      validateChannel(channel);
      if (!(message instanceof Uint8Array)) {
        throw invalidArgument("message", "expected a Uint8Array");
      }
      return new Promise<void>((resolve, reject) => {
        outbox.push({ channel, message: message.slice(), seq: 0, resolve, reject });
        if (outbox.length === 1) queueMicrotask(flushOutbox);
      });
    },
    async subscribe(channel, handler) {
      ensureOpen();
      validateChannel(channel);
      if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
      // The poller's "seen" marks are taken before the starting seq is read: a message another
      // connection commits in between then changes data_version after the mark, so the next poll
      // reads it. (Taken after, the mark would already include that commit and the poller would
      // skip the message until some later write.)
      const version = run("subscribing", () => dataVersion.get() as number);
      const publishCount = connectionPublishes.get(database) ?? 0;
      const afterSeq = run("subscribing", () => selectLastSeq.get() as number);
      if (subscriptionCount === 0) {
        // Nothing older than now is of interest to a fresh subscriber; start polling here.
        lastSeq = afterSeq;
        lastDataVersion = version;
        lastPublishCount = publishCount;
        deliveredLocally.clear();
      }
      const subscription: Subscription = { handler, afterSeq, active: true };
      let subscriptions = channels.get(channel);
      if (!subscriptions) {
        subscriptions = new Set();
        channels.set(channel, subscriptions);
      }
      subscriptions.add(subscription);
      subscriptionCount++;
      startPolling();
      return async () => {
        if (!subscription.active) return;
        subscription.active = false;
        subscriptions.delete(subscription);
        if (subscriptions.size === 0 && channels.get(channel) === subscriptions) {
          channels.delete(channel);
        }
        subscriptionCount--;
        if (subscriptionCount === 0) stopPolling();
      };
    },
    async close() {
      if (closed) return;
      flushOutbox();
      closed = true;
      stopPolling();
      for (const subscriptions of channels.values()) {
        for (const subscription of subscriptions) subscription.active = false;
      }
      channels.clear();
      subscriptionCount = 0;
      const neighbours = localPeers.get(identity);
      neighbours?.delete(peer);
      if (neighbours?.size === 0) localPeers.delete(identity);
      if (owned && database.open) database.close();
    },
  };
}
