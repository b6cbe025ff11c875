import type { ActorSystem } from "@troupe/actors";
import {
  type Clock,
  type Counter,
  jsonCodec,
  type Logger,
  type Store,
  type Timer,
} from "@troupe/core";
import { BackgroundLane } from "./background-lane.js";
import {
  behind,
  type ConsumerState,
  CursorCheckpoints,
  type CursorRecord,
} from "./cursor-checkpoints.js";
import type { EventLog, StreamEvent } from "./event-log.js";
import type { ImplicitSubscription } from "./implicit.js";
import type { LagTracker } from "./lag.js";
import type { StreamId, StreamLayout } from "./stream-id.js";
import { PAGE } from "./subscription.js";

export type { CursorRecord } from "./cursor-checkpoints.js";

/**
 * How long a stream's list of consumers is used before it is listed again (in the background,
 * delivery goes on meanwhile): how soon this process notices a subscription made elsewhere. The
 * sweep and this process's own subscriptions refresh it at once.
 */
export const CONSUMERS_REFRESH_MS = 1_000;
/** Streams whose consumers are kept in memory; beyond this the longest-known are dropped. */
const MAX_CACHED_STREAMS = 10_000;

interface KnownConsumers {
  readonly states: Map<string, ConsumerState>;
  listedAt: number;
  refreshing: boolean;
}

/** The consumer id of an implicit subscription by `type`. */
export const implicitId = (type: string) => `i.${type}`;

/** The actor key an implicit consumer of stream key `key` has. */
export function implicitKey(subscription: ImplicitSubscription, key: string): string | number {
  return subscription.definition.key === "integer" && /^-?\d{1,15}$/.test(key) ? Number(key) : key;
}

/**
 * Delivers stream events to actor consumers (implicit and explicit) with their cursors in the
 * Store: an event is delivered (the action finished), then the cursor moves past it with a
 * guarded write ({@link CursorCheckpoints}, off the delivery path). A crash between the two
 * redelivers the event: at least once, in order. The consumers of a stream are listed from the
 * Store once and then kept here, refreshed every {@link CONSUMERS_REFRESH_MS}.
 */
export class ActorDelivery {
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly retries = new Map<string, Timer>();
  /** Streams whose delivery failed (retried by timer and by the sweep). */
  readonly failing = new Set<string>();
  /** The highest sequence number this process knows per stream (for the lag gauge). */
  readonly heads = new Map<string, number>();
  /**
   * Events this process just appended, per stream with delivery pending (contiguous, at most a
   * page): a delivery round takes them from here instead of reading them back from the Store.
   */
  private readonly recent = new Map<string, StreamEvent[]>();
  private readonly known = new Map<string, KnownConsumers>();
  /** Background listings of consumers and cursor writes, one at a time. */
  private readonly lane = new BackgroundLane();
  private readonly checkpoints: CursorCheckpoints;
  private closed = false;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly layout: StreamLayout;
      readonly log: EventLog;
      readonly system: ActorSystem | undefined;
      readonly implicit: readonly ImplicitSubscription[];
      readonly lag: LagTracker;
      readonly logger: Logger;
      readonly clock: Clock;
      readonly retryMs: number;
      /** How long moved cursors gather before they are written ({@link CursorCheckpoints}). */
      readonly cursorFlushMs: number;
      /** How far delivery may run past a stored cursor ({@link CursorCheckpoints}). */
      readonly cursorMaxBehind: number;
      readonly delivered: Counter;
      readonly failures: Counter;
    },
  ) {
    this.checkpoints = new CursorCheckpoints({
      ...deps,
      flushMs: deps.cursorFlushMs,
      maxBehind: deps.cursorMaxBehind,
      lane: this.lane,
    });
  }

  /** Implicit subscriptions of `namespace`. */
  implicitFor(namespace: string): ImplicitSubscription[] {
    return this.deps.implicit.filter((each) => each.namespace === namespace);
  }

  /** Notes a known head (a publish here, or an announcement). */
  sawHead(id: StreamId, seq: number): void {
    const name = streamName(id);
    if (seq > (this.heads.get(name) ?? 0)) this.heads.set(name, seq);
  }

  /** Keeps events just appended here for the next delivery round. */
  appended(id: StreamId, events: readonly StreamEvent[]): void {
    if (this.deps.system === undefined || events.length === 0) return;
    const name = streamName(id);
    const cached = this.recent.get(name) ?? [];
    const last = cached.at(-1)?.seq;
    const joined =
      last !== undefined && events[0]?.seq === last + 1 ? [...cached, ...events] : [...events];
    this.recent.set(name, joined.length > PAGE ? joined.slice(joined.length - PAGE) : joined);
  }

  /** The cached events after `after`, when the cache holds the one right after it. */
  private cachedAfter(name: string, after: number): StreamEvent[] | undefined {
    const cached = this.recent.get(name);
    const first = cached?.[0]?.seq;
    if (cached === undefined || first === undefined || first > after + 1) return undefined;
    const from = after + 1 - first;
    return from < cached.length ? cached.slice(from) : undefined;
  }

  /** Runs delivery for the stream now, or once more after the running round. */
  schedule(id: StreamId): Promise<void> {
    if (this.closed || this.deps.system === undefined) return Promise.resolve();
    const name = streamName(id);
    const current = this.running.get(name);
    if (current !== undefined) {
      current.again = true;
      return current.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.again = false;
          const ok = await this.pump(id).catch((error: unknown) => {
            this.deps.logger.warn("stream delivery round failed", { stream: name, error });
            return false;
          });
          if (ok) {
            this.failing.delete(name);
          } else {
            this.failing.add(name);
            this.retryLater(id);
          }
        } while (state.again && !this.closed);
      } finally {
        this.running.delete(name);
        this.recent.delete(name);
      }
    })();
    this.running.set(name, state);
    return state.done;
  }

  private retryLater(id: StreamId): void {
    const name = streamName(id);
    if (this.closed || this.retries.has(name)) return;
    this.retries.set(
      name,
      this.deps.clock.setTimer(this.deps.retryMs, () => {
        this.retries.delete(name);
        void this.schedule(id);
      }),
    );
  }

  /** The consumers of one stream: cursors in the Store plus implicit ones without a cursor yet. */
  private async list(id: StreamId): Promise<ConsumerState[]> {
    const { store, layout } = this.deps;
    const entries = await store.list({ prefix: layout.cursorPrefix(id) });
    const found = new Map<string, ConsumerState>();
    for (const entry of entries) {
      const consumer = layout.idOfCursor(entry.key).consumer;
      const record = jsonCodec.decode(entry.value) as CursorRecord;
      found.set(consumer, {
        id: consumer,
        type: record.type,
        actorKey: record.actorKey,
        action: record.action,
        seq: record.seq,
        version: entry.version,
        storedSeq: record.seq,
        removed: false,
      });
    }
    for (const subscription of this.implicitFor(id.namespace)) {
      const consumer = implicitId(subscription.definition.name);
      if (found.has(consumer)) continue;
      found.set(consumer, {
        id: consumer,
        type: subscription.definition.name,
        actorKey: implicitKey(subscription, id.key),
        action: subscription.action,
        seq: 0,
        version: "absent",
        storedSeq: 0,
        removed: false,
      });
    }
    return [...found.values()];
  }

  /**
   * The stream's consumers as this process knows them: listed from the Store the first time,
   * then kept (with the positions delivered here) and listed again in the background when the
   * list is older than CONSUMERS_REFRESH_MS.
   */
  private async consumersOf(id: StreamId): Promise<ConsumerState[]> {
    const name = streamName(id);
    const now = this.deps.clock.now();
    let known = this.known.get(name);
    if (known === undefined) {
      const states = new Map((await this.list(id)).map((state) => [state.id, state]));
      known = this.known.get(name) ?? { states, listedAt: now, refreshing: false };
      this.remember(name, known);
    } else if (now - known.listedAt >= CONSUMERS_REFRESH_MS && !known.refreshing) {
      const stale = known;
      stale.refreshing = true;
      // In the background lane: streams that fall due together do not take a Store connection
      // each, and a listing never runs beside a cursor write.
      void this.lane
        .run(async () => (this.closed ? undefined : await this.list(id)))
        .then((listed) => {
          if (listed === undefined) return;
          stale.listedAt = this.deps.clock.now();
          if (this.merge(stale, listed)) void this.schedule(id);
        })
        .catch((error: unknown) =>
          this.deps.logger.warn("listing stream consumers failed", { stream: name, error }),
        )
        .finally(() => {
          stale.refreshing = false;
        });
    }
    return [...known.states.values()].filter((state) => !state.removed);
  }

  private remember(name: string, known: KnownConsumers): void {
    this.known.delete(name);
    this.known.set(name, known);
    for (const oldest of this.known.keys()) {
      if (this.known.size <= MAX_CACHED_STREAMS) break;
      if (!this.running.has(oldest)) this.known.delete(oldest);
    }
  }

  /** Takes in a fresh list; true when it brought a consumer that may be behind. */
  private merge(known: KnownConsumers, listed: readonly ConsumerState[]): boolean {
    let added = false;
    for (const fresh of listed) {
      const mine = known.states.get(fresh.id);
      if (mine === undefined) {
        known.states.set(fresh.id, fresh);
        added = true;
      } else if (
        typeof fresh.version === "number" &&
        (mine.version === "absent" || fresh.version > mine.version)
      ) {
        // Moved (or created) by another process since this one last wrote it.
        mine.version = fresh.version;
        mine.storedSeq = fresh.storedSeq;
        if (fresh.seq > mine.seq) mine.seq = fresh.seq;
      }
    }
    return added;
  }

  /** Lists every stream's consumers again at its next delivery (the sweep saw the Store). */
  expireConsumers(): void {
    for (const known of this.known.values()) known.listedAt = Number.NEGATIVE_INFINITY;
  }

  /** An explicit subscription made here: delivery knows of it at once. */
  added(id: StreamId, consumer: string, record: CursorRecord, version: number): void {
    const known = this.known.get(streamName(id));
    if (known === undefined) return;
    known.states.set(consumer, {
      id: consumer,
      ...record,
      version,
      storedSeq: record.seq,
      removed: false,
    });
  }

  /** An explicit subscription removed here: nothing more is delivered to it from this process. */
  removed(id: StreamId, consumer: string): void {
    const state = this.known.get(streamName(id))?.states.get(consumer);
    if (state !== undefined) state.removed = true;
    this.known.get(streamName(id))?.states.delete(consumer);
    this.checkpoints.forget(id, consumer);
  }

  /** One round: every consumer of the stream gets the events after its position. */
  private async pump(id: StreamId): Promise<boolean> {
    const consumers = await this.consumersOf(id);
    if (consumers.length === 0) return true;
    const results = await Promise.all(consumers.map((consumer) => this.deliverTo(id, consumer)));
    return results.every(Boolean);
  }

  private async deliverTo(id: StreamId, consumer: ConsumerState): Promise<boolean> {
    const { log, system } = this.deps;
    if (system === undefined) return true;
    const name = streamName(id);
    for (;;) {
      if (this.closed || consumer.removed) return true;
      const after = consumer.seq;
      const events = this.cachedAfter(name, after) ?? (await log.read(id, after, PAGE));
      if (events.length === 0) {
        this.reportLag(id, consumer);
        return true;
      }
      const first = events[0]?.seq ?? 0;
      if (first > after + 1 && consumer.seq === after) {
        // Retention removed events this consumer never got: it cannot have them any more.
        this.deps.logger.warn("stream consumer skipped events removed by retention", {
          stream: name,
          consumer: consumer.id,
          after,
          firstRetained: first,
        });
      }
      let failed = false;
      let position = after;
      for (const event of events) {
        // Too far past the stored cursor: wait for it (bounds what a crash redelivers).
        while (this.checkpoints.mustWait(consumer) && !this.closed) {
          this.checkpoints.moved(id, consumer);
          await this.checkpoints.written();
        }
        // Stop when another process's cursor moved this consumer on, or it was removed.
        if (this.closed || consumer.removed || consumer.seq !== position) break;
        try {
          await system.invoke(consumer.type, consumer.actorKey, consumer.action, [event]);
        } catch (error) {
          this.deps.failures.inc(1, { namespace: id.namespace, consumer: consumer.type });
          this.deps.logger.warn("stream delivery failed; it will be retried", {
            stream: name,
            consumer: consumer.id,
            seq: event.seq,
            error,
          });
          failed = true;
          break;
        }
        if (consumer.seq === position) consumer.seq = event.seq;
        position = event.seq;
        if (2 * behind(consumer) >= this.deps.cursorMaxBehind) this.checkpoints.moved(id, consumer);
        this.sawHead(id, event.seq);
        this.deps.delivered.inc(1, { namespace: id.namespace, consumer: consumer.type });
      }
      this.checkpoints.moved(id, consumer);
      this.reportLag(id, consumer);
      if (failed) return false;
      if (events.length < PAGE && consumer.seq === position) return true;
    }
  }

  private reportLag(id: StreamId, consumer: ConsumerState): void {
    const published = Math.max(this.heads.get(streamName(id)) ?? 0, consumer.seq);
    this.deps.lag.set({
      namespace: id.namespace,
      key: id.key,
      consumer: consumer.id,
      label: consumer.type,
      published,
      delivered: consumer.seq,
    });
  }

  /** Records what the sweep saw (the lag of consumers whose delivery runs elsewhere). */
  observe(id: StreamId, consumer: { id: string; type: string; seq: number }, head: number): void {
    this.sawHead(id, head);
    this.deps.lag.set({
      namespace: id.namespace,
      key: id.key,
      consumer: consumer.id,
      label: consumer.type,
      published: head,
      delivered: consumer.seq,
    });
  }

  /** Stops retries, waits for rounds in flight and writes the cursors they moved. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retries.values()) timer.cancel();
    this.retries.clear();
    // A round waiting for its cursor write (cursorMaxBehind) stops instead of waiting for a retry.
    this.checkpoints.wake();
    await Promise.all([...this.running.values()].map((state) => state.done));
    await this.lane.idle();
    await this.checkpoints.close();
  }
}

/** A stream's name for maps and logs: `<namespace>/<key>`. */
export const streamName = (id: StreamId) => `${id.namespace}/${id.key}`;
