import type { ActorRefJson, ActorSystem } from "@troupe/actors";
import {
  type Clock,
  closedError,
  invalidArgument,
  jsonCodec,
  type Logger,
  type Metrics,
  noopLogger,
  noopMetrics,
  type PubSub,
  parseWith,
  type Store,
  systemClock,
  type Timer,
  ulid,
} from "@troupe/core";
import { z } from "zod";
import { ActorDelivery, type CursorRecord, implicitId, streamName } from "./actor-consumers.js";
import { ChannelHub } from "./channel-hub.js";
import { CURSOR_FLUSH_MS, CURSOR_MAX_BEHIND } from "./cursor-checkpoints.js";
import { eventTooLarge } from "./errors.js";
import { type Appended, createEventLog, peekSeq, type StreamEvent } from "./event-log.js";
import type { ImplicitSubscription } from "./implicit.js";
import { type LagEntry, LagTracker } from "./lag.js";
import { PublishBatcher } from "./publish-batcher.js";
import {
  type StreamId,
  streamLayout,
  validateSeq,
  validateStreamId,
  validateStreamKey,
} from "./stream-id.js";
import {
  type StreamHandle,
  type StreamHandleJson,
  type StreamHandler,
  Subscription,
} from "./subscription.js";

/** What {@link createStreams} takes. */
export interface StreamsOptions {
  /** Where events, heads and actor consumers' cursors live (the source of truth). */
  readonly store: Store;
  /** How new events are announced to subscribers in every process (the low-latency path). */
  readonly pubsub: PubSub;
  /** The actor system implicit and explicit actor consumers live in. */
  readonly system?: ActorSystem;
  /** Implicit subscriptions (from `implicitSubscription`). */
  readonly implicit?: readonly ImplicitSubscription[];
  /** Time source (event times, retention by age, timers). Default the system clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Store key prefix. Default `streams/`. */
  readonly prefix?: string;
  /** PubSub channel prefix. Default `troupe.streams`. */
  readonly channelPrefix?: string;
  /** Events kept per stream. Default 10,000. */
  readonly maxEvents?: number;
  /** Events older than this (ms) are removed by the sweep. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Largest encoded event, in bytes. Default 65,536. */
  readonly maxEventBytes?: number;
  /** How often the sweep runs (recovery of stuck actor delivery, retention by age); 0: never. Default 5,000. */
  readonly sweepMs?: number;
  /** Delay before a failed actor delivery is tried again, in ms. Default 1,000. */
  readonly retryMs?: number;
  /**
   * How long actor consumers' moved cursors gather before one commit writes them all, in ms
   * (0: at the next timer turn). A crash redelivers what was delivered in this window, at most
   * `cursorMaxBehind` events per consumer. Default 50.
   */
  readonly cursorFlushMs?: number;
  /**
   * How far (in sequence numbers) delivery to an actor consumer may run past its stored cursor:
   * half-way there the cursor is written at once, there delivery waits for the write. A crash
   * redelivers at most this many events whose action finished, per consumer. Default 100.
   */
  readonly cursorMaxBehind?: number;
}

/** Where a new subscription starts. */
export interface SubscribeOptions {
  /**
   * Deliver the events with a sequence number above this one (0: every retained event).
   * Default: the stream's current head (only events published from now on).
   */
  readonly after?: number;
  /** When retention removed events after `after`: fail with `STREAM_TRIMMED` (default) or skip them. */
  readonly ifTrimmed?: "fail" | "skip";
  /** The consumer's label on `/metrics` (`troupe_stream_lag{consumer=…}`). Default `handle`. */
  readonly consumer?: string;
}

/** An explicit, durable subscription of an actor to a stream. */
export interface ActorSubscription {
  /** The subscription's id (`x.<ulid>`). */
  readonly id: string;
  readonly namespace: string;
  readonly key: string;
}

/** Streams of events for actors and external clients. */
export interface Streams {
  /** Appends `data` to stream `namespace`/`key` and announces it; resolves once it is stored. */
  publish<T>(namespace: string, key: string, data: T): Promise<StreamEvent<T>>;
  /** Subscribes `handler` in this process (an explicit handle); resolves once it is live. */
  subscribe<T>(
    namespace: string,
    key: string,
    handler: StreamHandler<T>,
    options?: SubscribeOptions,
  ): Promise<StreamHandle>;
  /** Subscribes again where `handle` stopped: every event after its `position`, in order. */
  resume<T>(
    handle: StreamHandleJson,
    handler: StreamHandler<T>,
    options?: Omit<SubscribeOptions, "after">,
  ): Promise<StreamHandle>;
  /**
   * Subscribes an actor durably: each event is delivered to `actor`'s `action` (at least once,
   * in order), from any process running these streams, until `unsubscribeActor`.
   */
  subscribeActor(
    namespace: string,
    key: string,
    target: {
      readonly actor: ActorRefJson | { toJSON(): ActorRefJson };
      readonly action: string;
      readonly after?: number;
    },
  ): Promise<ActorSubscription>;
  /** Ends an explicit actor subscription (a no-op when it is gone). */
  unsubscribeActor(subscription: ActorSubscription): Promise<void>;
  /** The stream's last sequence number (0 when never published to). */
  head(namespace: string, key: string): Promise<number>;
  /** The oldest retained sequence number, or undefined when none is retained. */
  firstRetained(namespace: string, key: string): Promise<number | undefined>;
  /** Retained events after `after`, at most `limit` (default 256). */
  read(namespace: string, key: string, after: number, limit?: number): Promise<StreamEvent[]>;
  /**
   * Finds actor consumers behind their stream's head and delivers to them (a publisher that died
   * before delivering, a consumer that keeps failing), and removes events past `maxAgeMs`.
   * Runs every `sweepMs`; exposed for tests and tools.
   */
  sweep(): Promise<void>;
  /** Every consumer this process tracks, with its lag. */
  lag(): LagEntry[];
  /** Ends every subscription and timer; the Store and PubSub stay open (they are the caller's). */
  close(): Promise<void>;
}

const positiveInt = z.number().int().positive();
const optionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof value === "object" && value !== null,
    "expected a Store",
  ),
  pubsub: z.custom<PubSub>(
    (value) => typeof value === "object" && value !== null,
    "expected a PubSub",
  ),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\/$/, "expected letters, digits, . _ - and a trailing /")
    .optional(),
  channelPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "expected 1-64 letters, digits or . _ -")
    .optional(),
  maxEvents: positiveInt.optional(),
  maxAgeMs: positiveInt.optional(),
  maxEventBytes: positiveInt.optional(),
  sweepMs: z.number().int().nonnegative().optional(),
  retryMs: positiveInt.optional(),
  cursorFlushMs: z.number().int().nonnegative().optional(),
  cursorMaxBehind: positiveInt.optional(),
});

const LIST_PAGE = 1_000;

/** Creates streams on a Store and a PubSub (and an actor system, for actor consumers). */
export function createStreams(options: StreamsOptions): Streams {
  parseWith(optionsSchema, options, "createStreams");
  const { store, pubsub, system } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const metrics = options.metrics ?? noopMetrics;
  const layout = streamLayout(options.prefix, options.channelPrefix);
  const log = createEventLog({
    store,
    layout,
    clock,
    retention: {
      maxEvents: options.maxEvents ?? 10_000,
      maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3_600_000,
    },
  });
  const lag = new LagTracker(metrics);
  const published = metrics.counter("troupe_stream_events_published_total", {
    help: "Stream events published by this process",
  });
  const delivered = metrics.counter("troupe_stream_events_delivered_total", {
    help: "Stream events delivered by this process, per namespace and consumer",
  });
  const failures = metrics.counter("troupe_stream_delivery_failures_total", {
    help: "Stream deliveries to actors that failed (and will be retried)",
  });
  const hub = new ChannelHub(pubsub, logger);
  const actors = new ActorDelivery({
    store,
    layout,
    log,
    system,
    implicit: options.implicit ?? [],
    lag,
    logger,
    clock,
    retryMs: options.retryMs ?? 1_000,
    cursorFlushMs: options.cursorFlushMs ?? CURSOR_FLUSH_MS,
    cursorMaxBehind: options.cursorMaxBehind ?? CURSOR_MAX_BEHIND,
    delivered,
    failures,
  });
  const subscriptions = new Set<Subscription>();
  const maxEventBytes = options.maxEventBytes ?? 65_536;
  // Announcements handed to the PubSub and not settled yet (awaited by `close`).
  const announcing = new Set<Promise<void>>();
  const stored = (id: StreamId, appended: Appended[]) => {
    const channel = layout.channel(id);
    published.inc(appended.length, { namespace: id.namespace });
    for (const { event, bytes } of appended) {
      actors.sawHead(id, event.seq);
      hub.local(channel, bytes, event);
      // Not awaited: the next commit does not wait for the PubSub. One connection keeps a
      // stream's announcements in order; stored is published, so a lost one is filled later.
      const sent = pubsub
        .publish(channel, bytes)
        .catch((error: unknown) => {
          logger.warn("stream announcement failed", {
            stream: streamName(id),
            seq: event.seq,
            error,
          });
        })
        .finally(() => announcing.delete(sent));
      announcing.add(sent);
    }
    if (system !== undefined) {
      actors.appended(
        id,
        appended.map(({ event }) => event),
      );
      void actors.schedule(id);
    }
  };
  const batcher = new PublishBatcher(log, (id, appended) => {
    try {
      stored(id, appended);
    } catch (error) {
      logger.warn("stream delivery after publish failed", { stream: streamName(id), error });
    }
  });
  let closed = false;
  let sweptOnce = false;
  const lastSweep = new Map<string, string>();

  const ensureOpen = () => {
    if (closed) throw closedError("streams");
  };

  const subscribe = async (
    id: StreamId,
    handler: StreamHandler,
    subscribeOptions: SubscribeOptions,
    handleId: string,
  ): Promise<StreamHandle> => {
    ensureOpen();
    if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
    const after =
      subscribeOptions.after === undefined
        ? undefined
        : validateSeq(subscribeOptions.after, "after");
    const ifTrimmed = subscribeOptions.ifTrimmed ?? "fail";
    if (ifTrimmed !== "fail" && ifTrimmed !== "skip") {
      throw invalidArgument(
        "ifTrimmed",
        `expected "fail" or "skip", got ${JSON.stringify(ifTrimmed)}`,
      );
    }
    const label = subscribeOptions.consumer ?? "handle";
    let subscription: Subscription | undefined;
    const early: [Uint8Array, StreamEvent | undefined][] = [];
    // Live first, so nothing published between the head read and the subscription is missed.
    const stop = await hub.listen(layout.channel(id), (bytes, event) => {
      if (subscription === undefined) early.push([bytes, event]);
      else deliverBytes(subscription, id, bytes, event);
    });
    try {
      const head = await log.head(id);
      subscription = new Subscription(
        handleId,
        id,
        after ?? head,
        head,
        handler,
        label,
        ifTrimmed === "skip",
        {
          log,
          lag,
          logger,
          delivered: (namespace, name) => delivered.inc(1, { namespace, consumer: name }),
        },
      );
    } catch (error) {
      await stop();
      throw error;
    }
    const live = subscription;
    live.stopListening = stop;
    subscriptions.add(live);
    void live.ended.then(() => subscriptions.delete(live));
    for (const [bytes, event] of early) deliverBytes(live, id, bytes, event);
    live.kick();
    return live;
  };

  const deliverBytes = (
    subscription: Subscription,
    id: StreamId,
    bytes: Uint8Array,
    event: StreamEvent | undefined,
  ) => {
    if (event !== undefined) return subscription.arrive(event);
    // The PubSub copy of an event published here, or a replay: dropped undecoded.
    const seq = peekSeq(bytes);
    if (seq !== undefined && seq <= subscription.position) return;
    try {
      subscription.arrive(log.decode(id, bytes));
    } catch (error) {
      logger.warn("malformed stream announcement dropped", { stream: streamName(id), error });
    }
  };

  const listAll = async (prefix: string) => {
    const all = [];
    let start: string | undefined;
    for (;;) {
      const page = await store.list({ prefix, limit: LIST_PAGE, ...(start ? { start } : {}) });
      all.push(...page);
      if (page.length < LIST_PAGE) return all;
      start = `${page[page.length - 1]?.key}\u0000`;
    }
  };

  const sweep = async () => {
    const first = !sweptOnce;
    sweptOnce = true;
    // Subscriptions made by other processes: every stream lists its consumers again.
    actors.expireConsumers();
    const heads = await listAll(layout.headPrefix);
    const cursors = await listAll(layout.allCursorsPrefix);
    const byStream = new Map<string, { id: string; type: string; seq: number }[]>();
    for (const entry of cursors) {
      const { id, consumer } = layout.idOfCursor(entry.key);
      const record = jsonCodec.decode(entry.value) as CursorRecord;
      const list = byStream.get(streamName(id)) ?? [];
      list.push({ id: consumer, type: record.type, seq: record.seq });
      byStream.set(streamName(id), list);
    }
    for (const entry of heads) {
      if (closed) return;
      const id = layout.idOfHead(entry.key);
      const name = streamName(id);
      const head = (jsonCodec.decode(entry.value) as { seq: number }).seq;
      const consumers = [...(byStream.get(name) ?? [])];
      for (const each of actors.implicitFor(id.namespace)) {
        const consumer = implicitId(each.definition.name);
        if (!consumers.some((known) => known.id === consumer)) {
          consumers.push({ id: consumer, type: each.definition.name, seq: 0 });
        }
      }
      for (const consumer of consumers) actors.observe(id, consumer, head);
      const behind = consumers.some((consumer) => consumer.seq < head);
      const signature = consumers.map((consumer) => `${consumer.id}=${consumer.seq}`).join(",");
      // Deliver where nothing moved since the last sweep (its publisher died or delivery keeps
      // failing), on the first sweep after start, or where delivery failed here.
      if (behind && (first || lastSweep.get(name) === signature || actors.failing.has(name))) {
        void actors.schedule(id);
      }
      lastSweep.set(name, signature);
      await log
        .trimByAge(id, 100)
        .catch((error: unknown) =>
          logger.warn("stream retention by age failed", { stream: name, error }),
        );
    }
  };

  let sweepTimer: Timer | undefined;
  const sweepMs = options.sweepMs ?? 5_000;
  const armSweep = () => {
    if (closed || sweepMs === 0) return;
    sweepTimer = clock.setTimer(sweepMs, () => {
      void sweep()
        .catch((error: unknown) => logger.warn("stream sweep failed", { error }))
        .finally(armSweep);
    });
  };
  armSweep();

  return {
    async publish(namespace, key, data) {
      ensureOpen();
      const id = validateStreamId(namespace, key);
      const size = log.encodedSize(data);
      if (size > maxEventBytes) throw eventTooLarge(size, maxEventBytes);
      return batcher.add(id, streamName(id), data) as Promise<StreamEvent<never>>;
    },

    subscribe(namespace, key, handler, subscribeOptions = {}) {
      return subscribe(
        validateStreamId(namespace, key),
        handler as StreamHandler,
        subscribeOptions,
        ulid(),
      );
    },

    resume(handle, handler, resumeOptions = {}) {
      if (typeof handle !== "object" || handle === null) {
        throw invalidArgument("handle", "expected a handle ({ id, namespace, key, position })");
      }
      const id = validateStreamId(handle.namespace, handle.key);
      const position = validateSeq(handle.position, "handle.position");
      const handleId = typeof handle.id === "string" && handle.id.length > 0 ? handle.id : ulid();
      return subscribe(
        id,
        handler as StreamHandler,
        { ...resumeOptions, after: position },
        handleId,
      );
    },

    async subscribeActor(namespace, key, target) {
      ensureOpen();
      const id = validateStreamId(namespace, key);
      if (system === undefined) {
        throw invalidArgument("system", "actor subscriptions need createStreams({ system })");
      }
      const ref = (
        typeof (target?.actor as { toJSON?: unknown })?.toJSON === "function"
          ? (target.actor as { toJSON(): ActorRefJson }).toJSON()
          : target?.actor
      ) as ActorRefJson | undefined;
      const type = system.types().find((each) => each.name === ref?.type);
      if (ref === undefined || type === undefined) {
        throw invalidArgument(
          "actor",
          `expected a reference to an actor type of this system, got ${JSON.stringify(ref)}`,
        );
      }
      if (!type.actions.some((each) => each.name === target.action)) {
        throw invalidArgument(
          "action",
          `${type.name} has no action ${JSON.stringify(target.action)}`,
        );
      }
      const seq =
        target.after === undefined ? await log.head(id) : validateSeq(target.after, "after");
      const subscription: ActorSubscription = {
        id: `x.${ulid()}`,
        namespace: id.namespace,
        key: id.key,
      };
      const record: CursorRecord = {
        type: type.name,
        actorKey: ref.key ?? "",
        action: target.action,
        seq,
      };
      const { version } = await store.commit([
        {
          type: "set",
          key: layout.cursor(id, subscription.id),
          value: jsonCodec.encode(record),
          expect: "absent",
        },
      ]);
      actors.added(id, subscription.id, record, version);
      void actors.schedule(id);
      return subscription;
    },

    async unsubscribeActor(subscription) {
      const id = validateStreamId(subscription?.namespace, subscription?.key);
      if (typeof subscription.id !== "string" || !subscription.id.startsWith("x.")) {
        throw invalidArgument("id", "expected the id of an explicit actor subscription (x.…)");
      }
      validateStreamKey(subscription.id.slice(2), "id");
      await store.commit([{ type: "delete", key: layout.cursor(id, subscription.id) }]);
      actors.removed(id, subscription.id);
      lag.remove(id.namespace, id.key, subscription.id);
    },

    head(namespace, key) {
      return log.head(validateStreamId(namespace, key));
    },

    firstRetained(namespace, key) {
      return log.firstRetained(validateStreamId(namespace, key));
    },

    read(namespace, key, after, limit = 256) {
      const id = validateStreamId(namespace, key);
      validateSeq(after, "after");
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
        throw invalidArgument("limit", "expected an integer from 1 to 10,000");
      }
      return log.read(id, after, limit);
    },

    sweep,

    lag: () => lag.snapshot(),

    async close() {
      if (closed) return;
      closed = true;
      sweepTimer?.cancel();
      await batcher.drain();
      await Promise.all([...announcing]);
      await Promise.all([...subscriptions].map((each) => each.end()));
      await actors.close();
      await hub.close();
    },
  };
}
