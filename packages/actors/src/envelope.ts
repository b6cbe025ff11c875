import { type Clock, TroupeError } from "@troupe/core";
import type { CompiledAction, CompiledDefinition } from "./define.js";
import type { ActorAddress } from "./directory.js";

/** Where an envelope goes: one actor of one registered type. Shared by refs to the same actor. */
export interface Target {
  readonly definition: CompiledDefinition;
  readonly address: ActorAddress;
  /** `type/key`: the activation map key (type names cannot contain `/`). */
  readonly id: string;
  /** The key as the user gave it (undefined for unkeyed actors). */
  readonly keyValue: unknown;
}

/** Something waiting for a state write: a held reply, or `ctx.save()`. */
export interface SaveWaiter {
  ok(): void;
  fail(error: unknown): void;
}

/**
 * One call on its way: the action, its arguments, the caller's call chain, and how to answer.
 * One-way sends have no `resolve`; their failures go to `reject`, which logs.
 */
export class Envelope implements SaveWaiter {
  value: unknown = undefined;
  settled = false;
  /** When the call times out (ms since the epoch); 0 when no deadline is set yet. */
  deadline = 0;
  /** The timeout the deadline came from, for the error message. */
  timeoutMs = 0;
  /** Came in through `handleRemoteCall`: answer `moved` instead of re-routing. */
  fromRemote = false;
  /** Counts as activity for idle deactivation (false for timer firings). */
  keepAlive = true;
  /** How many times the call was sent on after a `moved` answer or a failover. */
  reroutes = 0;
  /** How many times the call was sent on because its node's lease lapsed while it waited. */
  failovers = 0;
  /** The deadline bucket this call waits in (an intrusive list: no allocation per call). */
  bucket: DeadlineBucket | undefined = undefined;
  prev: Envelope | undefined = undefined;
  next: Envelope | undefined = undefined;

  constructor(
    readonly target: Target,
    readonly action: CompiledAction,
    readonly args: readonly unknown[],
    readonly chain: readonly string[],
    readonly resolve: ((value: unknown) => void) | undefined,
    readonly reject: (error: unknown) => void,
  ) {}

  ok(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.bucket !== undefined) this.unlink();
    this.resolve?.(this.value);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.bucket !== undefined) this.unlink();
    this.reject(error);
  }

  /** Starts the call timeout (once). */
  arm(deadlines: Deadlines, timeoutMs: number): void {
    if (this.bucket !== undefined || this.settled) return;
    deadlines.watch(this, timeoutMs);
  }

  /** Leaves the deadline bucket. */
  unlink(): void {
    const bucket = this.bucket as DeadlineBucket;
    if (this.prev !== undefined) this.prev.next = this.next;
    else bucket.head = this.next;
    if (this.next !== undefined) this.next.prev = this.prev;
    this.bucket = undefined;
    this.prev = undefined;
    this.next = undefined;
  }

  /** The deadline passed. */
  expire(): void {
    this.fail(
      new TroupeError(
        "TIMEOUT",
        `actor ${this.target.address.type}/${this.target.address.key}: call to "${this.action.name}" timed out after ${this.timeoutMs} ms`,
        {
          details: {
            address: this.target.address,
            action: this.action.name,
            timeoutMs: this.timeoutMs,
          },
        },
      ),
    );
  }
}

/** Calls that time out at the same moment: one Clock timer for all of them. */
export class DeadlineBucket {
  head: Envelope | undefined = undefined;
  constructor(readonly at: number) {}
}

/**
 * Call timeouts without a Clock timer per call: calls are grouped by deadline (rounded up to a
 * thousandth of the timeout, at least 1 ms) in buckets with one timer each. A call that settles
 * just leaves its bucket; an emptied bucket's timer fires later and finds nothing to do, which is
 * cheaper than cancelling and re-creating timers on every call.
 */
export class Deadlines {
  private readonly buckets = new Map<number, DeadlineBucket>();
  private last: DeadlineBucket | undefined = undefined;

  constructor(private readonly clock: Clock) {}

  watch(envelope: Envelope, timeoutMs: number): void {
    if (envelope.deadline === 0) envelope.deadline = this.clock.now() + timeoutMs;
    envelope.timeoutMs = timeoutMs;
    const resolution = timeoutMs >= 2000 ? Math.floor(timeoutMs / 1000) : 1;
    const at = Math.ceil(envelope.deadline / resolution) * resolution;
    let bucket = this.last;
    if (bucket === undefined || bucket.at !== at) {
      bucket = this.buckets.get(at);
      if (bucket === undefined) {
        const created = new DeadlineBucket(at);
        this.buckets.set(at, created);
        this.clock.setTimer(at - this.clock.now(), () => this.expire(created));
        bucket = created;
      }
      this.last = bucket;
    }
    envelope.bucket = bucket;
    envelope.next = bucket.head;
    if (bucket.head !== undefined) bucket.head.prev = envelope;
    bucket.head = envelope;
  }

  private expire(bucket: DeadlineBucket): void {
    this.buckets.delete(bucket.at);
    if (this.last === bucket) this.last = undefined;
    let envelope = bucket.head;
    bucket.head = undefined;
    while (envelope !== undefined) {
      const next = envelope.next;
      envelope.bucket = undefined;
      envelope.prev = undefined;
      envelope.next = undefined;
      envelope.expire();
      envelope = next;
    }
  }
}
