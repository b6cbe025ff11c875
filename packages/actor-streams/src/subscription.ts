import type { Logger } from "@troupe/core";
import { streamTrimmed } from "./errors.js";
import type { EventLog, StreamEvent } from "./event-log.js";
import type { LagTracker } from "./lag.js";
import { classifyArrival, isTrimmed } from "./ordering.js";
import type { StreamId } from "./stream-id.js";

/** Receives the events of a subscription, one at a time, in sequence order. */
export type StreamHandler<T = unknown> = (event: StreamEvent<T>) => unknown;

/** A handle's serialisable form: enough to resume it elsewhere. */
export interface StreamHandleJson {
  /** The handle's id. */
  readonly id: string;
  /** The stream's namespace. */
  readonly namespace: string;
  /** The stream's key. */
  readonly key: string;
  /** The last sequence number delivered (resuming delivers the events after it). */
  readonly position: number;
}

/** An explicit subscription of a handler in this process. */
export interface StreamHandle extends StreamHandleJson {
  /**
   * Settles when the subscription ends: with undefined after `unsubscribe` or `close`, or with
   * the error that ended it (the handler threw, or `STREAM_TRIMMED`). `position` then holds the
   * last event the handler finished, so resuming from it redelivers the one that failed.
   */
  readonly ended: Promise<Error | undefined>;
  /** Stops delivery (idempotent). An event the handler is running still finishes. */
  unsubscribe(): Promise<void>;
  /** `{ id, namespace, key, position }`. */
  toJSON(): StreamHandleJson;
}

/** Events read from the Store per catch-up round. */
export const PAGE = 256;
/** Live events held while a catch-up runs; beyond this they are dropped and read back. */
const MAX_PENDING = 4_096;

/** What a subscription needs from its owner. */
export interface SubscriptionDeps {
  readonly log: EventLog;
  readonly lag: LagTracker;
  readonly logger: Logger;
  readonly delivered: (namespace: string, label: string) => void;
}

/**
 * One explicit subscription: it catches up from the Store, then takes live events from the
 * PubSub notifications, and fills any gap (lost or overtaken notification) from the Store, so
 * the handler sees every event after its starting point exactly in sequence order.
 */
export class Subscription implements StreamHandle {
  readonly namespace: string;
  readonly key: string;
  readonly ended: Promise<Error | undefined>;
  position: number;
  private knownHead: number;
  private readonly pending = new Map<number, StreamEvent>();
  private running = false;
  private closed = false;
  private finish!: (error: Error | undefined) => void;
  /** Set once the channel listener is registered. */
  stopListening: (() => Promise<void>) | undefined;

  constructor(
    readonly id: string,
    private readonly stream: StreamId,
    after: number,
    head: number,
    private readonly handler: StreamHandler,
    private readonly label: string,
    private readonly skipTrimmed: boolean,
    private readonly deps: SubscriptionDeps,
  ) {
    this.namespace = stream.namespace;
    this.key = stream.key;
    this.position = after;
    this.knownHead = head;
    this.ended = new Promise((resolve) => {
      this.finish = resolve;
    });
    this.reportLag();
  }

  /** An announced event (from PubSub or a local publish). */
  arrive(event: StreamEvent): void {
    if (this.closed) return;
    if (event.seq > this.knownHead) this.knownHead = event.seq;
    if (classifyArrival(this.position, event.seq) !== "duplicate") {
      if (this.pending.size < MAX_PENDING) this.pending.set(event.seq, event);
    }
    this.reportLag();
    this.kick();
  }

  /** Starts (or continues) delivering. */
  kick(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
    });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed) {
        const next = this.pending.get(this.position + 1);
        if (next !== undefined) {
          this.pending.delete(next.seq);
          await this.deliver(next);
          continue;
        }
        if (this.knownHead <= this.position) break;
        await this.catchUp();
      }
    } catch (error) {
      await this.end(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Reads the events after `position` from the Store and delivers them. */
  private async catchUp(): Promise<void> {
    const events = await this.deps.log.read(this.stream, this.position, PAGE);
    const first = events[0]?.seq;
    if (first === undefined || first !== this.position + 1) {
      const head = Math.max(this.knownHead, events.at(-1)?.seq ?? 0);
      if (isTrimmed(this.position, first, head)) {
        const retained = first ?? (await this.deps.log.firstRetained(this.stream));
        if (!this.skipTrimmed || retained === undefined) {
          throw streamTrimmed(this.namespace, this.key, this.position, retained);
        }
        this.deps.logger.warn("stream subscriber skipped events removed by retention", {
          namespace: this.namespace,
          key: this.key,
          after: this.position,
          firstRetained: retained,
        });
        this.position = retained - 1;
        if (first === undefined) return;
      } else if (first === undefined) {
        // The head we heard of is not readable yet: nothing to do until the next announcement.
        this.knownHead = this.position;
        return;
      }
    }
    for (const event of events) {
      if (this.closed) return;
      if (event.seq !== this.position + 1) continue;
      await this.deliver(event);
    }
  }

  private async deliver(event: StreamEvent): Promise<void> {
    await this.handler(event);
    this.position = event.seq;
    for (const seq of this.pending.keys()) if (seq <= this.position) this.pending.delete(seq);
    if (event.seq > this.knownHead) this.knownHead = event.seq;
    this.deps.delivered(this.namespace, this.label);
    this.reportLag();
  }

  private reportLag(): void {
    this.deps.lag.set({
      namespace: this.namespace,
      key: this.key,
      consumer: this.id,
      label: this.label,
      published: this.knownHead,
      delivered: this.position,
    });
  }

  /** Ends the subscription, with the error that ended it (or undefined). */
  async end(error?: Error): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.deps.lag.remove(this.namespace, this.key, this.id);
    if (error !== undefined) {
      this.deps.logger.warn("stream subscription ended", {
        namespace: this.namespace,
        key: this.key,
        position: this.position,
        error,
      });
    }
    await this.stopListening?.();
    this.finish(error);
  }

  unsubscribe(): Promise<void> {
    return this.end();
  }

  toJSON(): StreamHandleJson {
    return { id: this.id, namespace: this.namespace, key: this.key, position: this.position };
  }
}
