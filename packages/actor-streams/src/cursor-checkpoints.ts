import {
  type Clock,
  jsonCodec,
  type Logger,
  type Store,
  StoreConflictError,
  type StoreOp,
  type Timer,
} from "@troupe/core";
import type { BackgroundLane } from "./background-lane.js";
import type { StreamId, StreamLayout } from "./stream-id.js";

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

/** One actor consumer of one stream, as this process knows it. */
export interface ConsumerState {
  readonly id: string;
  readonly type: string;
  readonly actorKey: string | number;
  readonly action: string;
  /** The last event delivered (its action finished); the cursor catches up with it. */
  seq: number;
  /** The version of the stored cursor ("absent": an implicit consumer with none yet). */
  version: number | "absent";
  /** The `seq` the stored cursor holds. */
  storedSeq: number;
  /** Set when the subscription turned out to be removed: nothing more is delivered to it. */
  removed: boolean;
}

/** Most cursors one commit moves. */
const MAX_CURSORS_PER_COMMIT = 256;

/** Default of `cursorFlushMs`: how long moved cursors gather before they are written. */
export const CURSOR_FLUSH_MS = 50;

/**
 * Default of `cursorMaxBehind`: how far (in sequence numbers) delivery may run past a consumer's
 * stored cursor. Half-way there the cursor is written without waiting for the window; there,
 * delivery to that consumer waits for the write. So a crash redelivers at most this many events
 * whose action finished, per consumer, besides the one whose action was running.
 */
export const CURSOR_MAX_BEHIND = 100;

/** How far delivery ran past the stored cursor, in sequence numbers (at least the events). */
export const behind = (state: ConsumerState) => state.seq - state.storedSeq;

/**
 * Moves consumers' cursors in the Store after delivery, off the delivery path: delivery goes on
 * while a write is in flight. A moved cursor is written `flushMs` after the first move that is
 * not written yet, together with every cursor moved meanwhile or while a write was in flight (one
 * commit, each cursor guarded on its version): a busy process makes about one cursor commit per
 * `flushMs` however many events and streams it delivers, instead of one per delivery round. A
 * consumer `maxBehind / 2` past its stored cursor has it written at once, and delivery to one
 * `maxBehind` past it waits for the write ({@link mustWait}, {@link written}). The stored cursor
 * never passes what was delivered, so a crash redelivers from it: at least once, and at most
 * `maxBehind` events whose action finished per consumer. A cursor moved by another process is
 * read again: delivery skips ahead when the other process got further, and a removed explicit
 * subscription stops.
 */
export class CursorCheckpoints {
  private readonly dirty = new Map<string, { id: StreamId; state: ConsumerState }>();
  private writing: Promise<void> | undefined;
  /** The timer of the next write, while moves gather. */
  private flush: Timer | undefined;
  /** A consumer is half-way to `maxBehind`: the next write goes at once. */
  private urgent = false;
  private retry: Timer | undefined;
  /** Who waits for the next write to settle ({@link written}). */
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly layout: StreamLayout;
      readonly logger: Logger;
      readonly clock: Clock;
      readonly retryMs: number;
      /** How long moves gather before a write (0: at the next timer turn). */
      readonly flushMs: number;
      /** How far delivery may run past a stored cursor ({@link CURSOR_MAX_BEHIND}). */
      readonly maxBehind: number;
      /** Where writes run (urgent: before the listings waiting there). */
      readonly lane: BackgroundLane;
    },
  ) {}

  /** Notes that `state` delivered past its stored cursor; the cursor follows soon. */
  moved(id: StreamId, state: ConsumerState): void {
    if (state.removed || state.seq === state.storedSeq) return;
    this.dirty.set(this.deps.layout.cursor(id, state.id), { id, state });
    if (2 * behind(state) >= this.deps.maxBehind) this.urgent = true;
    this.kick();
  }

  /** Whether delivery to `state` must wait for its cursor write before the next event. */
  mustWait(state: ConsumerState): boolean {
    return !this.closed && !state.removed && behind(state) >= this.deps.maxBehind;
  }

  /** Settles when the write in flight, or else the next one, has settled (or on close). */
  written(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Lets every delivery waiting in {@link written} go (closing: it stops rather than waits). */
  wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Forgets pending moves of a removed consumer. */
  forget(id: StreamId, consumer: string): void {
    this.dirty.delete(this.deps.layout.cursor(id, consumer));
  }

  /** Writes what is pending (one more try when the Store is failing); stops retrying. */
  async close(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    this.retry = undefined;
    this.flush?.cancel();
    this.flush = undefined;
    this.wake();
    await this.writing;
    while (this.dirty.size > 0 && (await this.write())) {
      // Each round writes up to MAX_CURSORS_PER_COMMIT; a failed one gives up.
    }
  }

  /** Arms the next write, unless one is in flight, armed or waiting to be retried. */
  private kick(): void {
    if (this.writing !== undefined || this.retry !== undefined || this.closed) return;
    if (this.urgent) {
      // A consumer half-way to maxBehind: write now rather than at the end of the window.
      this.flush?.cancel();
      this.flush = undefined;
      this.startWrite();
    } else if (this.flush === undefined) {
      this.flush = this.deps.clock.setTimer(this.deps.flushMs, () => {
        this.flush = undefined;
        if (!this.closed) this.startWrite();
      });
    }
  }

  private startWrite(): void {
    this.urgent = false;
    this.writing = this.deps.lane
      .run(() => this.write(), true)
      .then((again) => {
        this.writing = undefined;
        this.wake();
        // Moves made while the write was in flight go at once only if one is still half-way.
        this.urgent = false;
        for (const { state } of this.dirty.values()) {
          if (2 * behind(state) >= this.deps.maxBehind) this.urgent = true;
        }
        if (again) this.kick();
      });
  }

  /** One commit of pending moves; true when more are pending and may be written right away. */
  private async write(): Promise<boolean> {
    const { store, logger } = this.deps;
    const taken: { key: string; id: StreamId; state: ConsumerState; seq: number }[] = [];
    for (const [key, entry] of this.dirty) {
      if (taken.length === MAX_CURSORS_PER_COMMIT) break;
      this.dirty.delete(key);
      // Removed, or written meanwhile (moved again while its write was in flight).
      if (entry.state.removed || entry.state.seq === entry.state.storedSeq) continue;
      taken.push({ key, ...entry, seq: entry.state.seq });
    }
    if (taken.length === 0) return false;
    const ops: StoreOp[] = taken.map(({ key, state, seq }) => {
      const record: CursorRecord = {
        type: state.type,
        actorKey: state.actorKey,
        action: state.action,
        seq,
      };
      return { type: "set", key, value: jsonCodec.encode(record), expect: state.version };
    });
    try {
      const { version } = await store.commit(ops);
      for (const { id, state, seq } of taken) {
        state.version = version;
        state.storedSeq = seq;
        if (state.seq !== seq) this.requeue(id, state);
      }
      return this.dirty.size > 0;
    } catch (error) {
      const lost = StoreConflictError.isInstance(error)
        ? taken.find((each) => each.key === error.key)
        : undefined;
      for (const each of taken) if (each !== lost) this.requeue(each.id, each.state);
      if (lost === undefined) {
        logger.warn("stream cursor write failed; it will be retried", { error });
        this.retryLater();
        return false;
      }
      await this.reread(lost.id, lost.state).catch((readError: unknown) => {
        logger.warn("stream cursor read failed; it will be retried", { error: readError });
        this.requeue(lost.id, lost.state);
        this.retryLater();
      });
      return this.retry === undefined && this.dirty.size > 0;
    }
  }

  /** The cursor moved elsewhere (or was removed): take the stored one and settle with it. */
  private async reread(id: StreamId, state: ConsumerState): Promise<void> {
    const entry = await this.deps.store.get(this.deps.layout.cursor(id, state.id));
    if (entry === undefined) {
      state.version = "absent";
      state.storedSeq = 0;
      // An explicit subscription without a cursor was removed; an implicit consumer recreates it.
      if (!state.id.startsWith("i.")) state.removed = true;
      else this.requeue(id, state);
      return;
    }
    const stored = jsonCodec.decode(entry.value) as CursorRecord;
    state.version = entry.version;
    state.storedSeq = stored.seq;
    // Another process delivered further: go on from there. Otherwise ours is the further one.
    if (stored.seq > state.seq) state.seq = stored.seq;
    else this.requeue(id, state);
  }

  private requeue(id: StreamId, state: ConsumerState): void {
    if (state.removed || state.seq === state.storedSeq) return;
    this.dirty.set(this.deps.layout.cursor(id, state.id), { id, state });
  }

  private retryLater(): void {
    if (this.closed || this.retry !== undefined) return;
    this.retry = this.deps.clock.setTimer(this.deps.retryMs, () => {
      this.retry = undefined;
      this.kick();
    });
  }
}
