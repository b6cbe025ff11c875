import type { ActorSystem } from "@troupe/actors";
import {
  type Clock,
  type Counter,
  jsonCodec,
  type Logger,
  type Store,
  StoreConflictError,
  type Timer,
} from "@troupe/core";
import type { EventLog, StreamEvent } from "./event-log.js";
import type { ImplicitSubscription } from "./implicit.js";
import type { LagTracker } from "./lag.js";
import type { StreamId, StreamLayout } from "./stream-id.js";
import { PAGE } from "./subscription.js";

/** A consumer's cursor record: who consumes, through which action, and how far it got. */
export interface CursorRecord {
  /** The actor type. */
  readonly type: string;
  /** The actor's key as the type expects it. */
  readonly actorKey: string | number;
  /** The action events are delivered to. */
  readonly action: string;
  /** Last sequence number delivered (and finished by the action). */
  readonly seq: number;
}

interface Consumer extends CursorRecord {
  readonly id: string;
  readonly version: number | "absent";
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
 * guarded write. A crash between the two redelivers the event: at least once, in order.
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
      readonly delivered: Counter;
      readonly failures: Counter;
    },
  ) {}

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
  async consumers(id: StreamId): Promise<Consumer[]> {
    const { store, layout } = this.deps;
    const entries = await store.list({ prefix: layout.cursorPrefix(id) });
    const found = new Map<string, Consumer>();
    for (const entry of entries) {
      const consumer = layout.idOfCursor(entry.key).consumer;
      const record = jsonCodec.decode(entry.value) as CursorRecord;
      found.set(consumer, { ...record, id: consumer, version: entry.version });
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
      });
    }
    return [...found.values()];
  }

  /** One round: every consumer of the stream gets the events after its cursor. */
  private async pump(id: StreamId): Promise<boolean> {
    const consumers = await this.consumers(id);
    if (consumers.length === 0) return true;
    const results = await Promise.all(consumers.map((consumer) => this.deliverTo(id, consumer)));
    return results.every(Boolean);
  }

  private async deliverTo(id: StreamId, start: Consumer): Promise<boolean> {
    const { log, store, layout, system } = this.deps;
    if (system === undefined) return true;
    let consumer = start;
    const name = streamName(id);
    for (;;) {
      if (this.closed) return true;
      const events =
        this.cachedAfter(name, consumer.seq) ?? (await log.read(id, consumer.seq, PAGE));
      if (events.length === 0) {
        this.reportLag(id, consumer);
        return true;
      }
      const first = events[0]?.seq ?? 0;
      if (first > consumer.seq + 1) {
        // Retention removed events this consumer never got: it cannot have them any more.
        this.deps.logger.warn("stream consumer skipped events removed by retention", {
          stream: name,
          consumer: consumer.id,
          after: consumer.seq,
          firstRetained: first,
        });
      }
      let delivered = consumer.seq;
      let failed = false;
      for (const event of events) {
        if (this.closed) break;
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
        delivered = event.seq;
        this.sawHead(id, event.seq);
        this.deps.delivered.inc(1, { namespace: id.namespace, consumer: consumer.type });
      }
      if (delivered > consumer.seq) {
        const record: CursorRecord = {
          type: consumer.type,
          actorKey: consumer.actorKey,
          action: consumer.action,
          seq: delivered,
        };
        try {
          const { version } = await store.commit([
            {
              type: "set",
              key: layout.cursor(id, consumer.id),
              value: jsonCodec.encode(record),
              expect: consumer.version,
            },
          ]);
          consumer = { ...consumer, seq: delivered, version };
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
          // Another process moved the cursor (or the subscription was removed): start from it.
          const entry = await store.get(layout.cursor(id, consumer.id));
          if (entry === undefined && !consumer.id.startsWith("i.")) return true;
          const stored =
            entry === undefined ? undefined : (jsonCodec.decode(entry.value) as CursorRecord);
          consumer = {
            ...consumer,
            seq: stored?.seq ?? 0,
            version: entry?.version ?? "absent",
          };
        }
      }
      this.reportLag(id, consumer);
      if (failed) return false;
      if (events.length < PAGE) return true;
    }
  }

  private reportLag(id: StreamId, consumer: Consumer): void {
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

  /** Stops retries and waits for rounds in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retries.values()) timer.cancel();
    this.retries.clear();
    await Promise.all([...this.running.values()].map((state) => state.done));
  }
}

/** A stream's name for maps and logs: `<namespace>/<key>`. */
export const streamName = (id: StreamId) => `${id.namespace}/${id.key}`;
