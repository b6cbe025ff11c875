import {
  type Clock,
  fromUtf8,
  jsonCodec,
  type Logger,
  type Store,
  StoreConflictError,
  type Timer,
  TroupeError,
  utf8,
} from "@troupe/core";
import type {
  ActorContext,
  ActorRefJson,
  ActorTimer,
  AnyActorDefinition,
  CompiledAction,
  CompiledDefinition,
  DeactivationReason,
  ReminderSchedule,
  TimerOptions,
  UntypedActorRef,
} from "./define.js";
import { zodFieldError } from "./define.js";
import type { ActorAddress, ActorDirectory, Ownership } from "./directory.js";

/** Where an envelope goes: one actor of one registered type. Shared by refs to the same actor. */
export interface Target {
  readonly definition: CompiledDefinition;
  readonly address: ActorAddress;
  /** `type/key`: the activation map key (type names cannot contain `/`). */
  readonly id: string;
  /** The key as the user gave it (undefined for unkeyed actors). */
  readonly keyValue: unknown;
}

/** What an activation needs from its system. */
export interface ActivationHost {
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  readonly store: Store;
  readonly directory: ActorDirectory;
  readonly logger: Logger;
  readonly closing: boolean;
  stateKey(target: Target): string;
  nextTurnId(): string;
  typedRef(definition: AnyActorDefinition, key: unknown, chain: readonly string[]): unknown;
  untypedRef(target: Target, chain: readonly string[]): UntypedActorRef;
  revive(json: ActorRefJson, chain: readonly string[]): UntypedActorRef;
  setReminder(target: Target, name: string, schedule: ReminderSchedule): Promise<void>;
  clearReminder(target: Target, name: string): Promise<void>;
  /** Routes an envelope again (its activation went away before running it). */
  redispatch(envelope: Envelope): void;
  /** The activation ended (deactivated or dropped). */
  removed(activation: Activation): void;
  /** The activation is ready. */
  activated(activation: Activation): void;
  /** The state was written. */
  saved(): void;
}

/** Something waiting for a state write: a held reply, or `ctx.save()`. */
interface SaveWaiter {
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
  /** How many times the call was sent on after a `moved` answer. */
  reroutes = 0;
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

const ACTIVATING = 0;
const ACTIVE = 1;
const DEACTIVATING = 2;
const DEAD = 3;

/** Activation status values (exported for the system's fast path). */
export const Status = { ACTIVATING, ACTIVE, DEACTIVATING, DEAD } as const;

// Turn modes: an exclusive write turn, a read-only turn (shares with other readers), an
// interleaving turn (runs beside anything), a nested turn (a call-chain re-entry, runs inside the
// turn that is waiting on it).
const WRITE = 0;
const READ = 1;
const INTERLEAVE = 2;
const NESTED = 3;
type Mode = 0 | 1 | 2 | 3;

const OK = 0;
const HOLD = 1;

/** Ids of the turns up a call chain; bounded so references kept in state cannot grow it forever. */
const MAX_CHAIN = 32;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * A cheap fingerprint of the state for change detection: native JSON.stringify, falling back to
 * the codec's text for values plain JSON cannot hold (bigint). Stored bytes always use the codec.
 */
export function fingerprint(state: unknown): string {
  try {
    return JSON.stringify(state) ?? "undefined";
  } catch {
    return fromUtf8(jsonCodec.encode(state));
  }
}

// What in a plain JSON text hints that the codec would have written it differently: tag-like
// keys, `null` (undefined in arrays, NaN), a serialised Uint8Array (`{"0":…}`, or `{}` when
// empty), an ISO date (a Date).
const CODEC_HINT = /"\$|null|\{"0":|\{\}|"[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/;

/**
 * The stored bytes of a state whose fingerprint is `print`. For plain JSON data they are the
 * fingerprint itself (the codec would write the same text); anything the codec treats specially
 * goes through the codec.
 */
export function encodeState(state: unknown, print: string): Uint8Array {
  if (print === "undefined" || CODEC_HINT.test(print)) return jsonCodec.encode(state);
  return utf8(print);
}

/** The context handed to one turn. Cheap: the call chain is only built when the turn calls out. */
export class TurnContext implements ActorContext<unknown, unknown> {
  /** This turn's id, once it needed one. */
  id: string | undefined = undefined;
  done = false;
  private outChain: readonly string[] | undefined = undefined;

  constructor(
    readonly activation: Activation,
    readonly chain: readonly string[],
  ) {}

  get state(): unknown {
    return this.activation.state;
  }

  set state(value: unknown) {
    this.activation.state = value;
  }

  get key(): unknown {
    return this.activation.target.keyValue;
  }

  get address(): ActorAddress {
    return this.activation.target.address;
  }

  get self(): UntypedActorRef {
    return this.activation.host.untypedRef(this.activation.target, this.callChain());
  }

  now(): number {
    return this.activation.host.clock.now();
  }

  /** The chain to send with calls made from this turn: the incoming one plus this turn. */
  callChain(): readonly string[] {
    if (this.outChain === undefined) {
      this.id = this.activation.host.nextTurnId();
      const base = this.chain.length >= MAX_CHAIN ? this.chain.slice(1) : this.chain;
      this.outChain = [...base, this.id];
      if (!this.done) this.activation.openTurn(this);
    }
    return this.outChain;
  }

  get(definition: AnyActorDefinition, ...key: unknown[]): never {
    return this.activation.host.typedRef(definition, key[0], this.callChain()) as never;
  }

  ref(json: ActorRefJson): UntypedActorRef {
    return this.activation.host.revive(json, this.callChain());
  }

  save(): Promise<void> {
    return this.activation.saveNow();
  }

  setTimer(options: TimerOptions, callback: (ctx: ActorContext<unknown, unknown>) => unknown) {
    return this.activation.setTimer(options, callback);
  }

  setReminder(name: string, schedule: ReminderSchedule): Promise<void> {
    return this.activation.host.setReminder(this.activation.target, name, schedule);
  }

  clearReminder(name: string): Promise<void> {
    return this.activation.host.clearReminder(this.activation.target, name);
  }

  deactivate(): void {
    this.activation.deactivateRequested = true;
  }
}

interface TimerEntry extends ActorTimer {
  handle: Timer | undefined;
  cancelled: boolean;
}

interface QuietWaiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
}

/**
 * One actor in memory: its state, its mailbox and the turn rules. A call runs at once when the
 * rules allow (the hot path: no queueing, no timer, no Store access when state did not change),
 * otherwise it waits in the bounded mailbox. In "after-turn" mode a turn that changed the state
 * has its reply held until the write is durable; writes are serialised and batched, so turns keep
 * running while one is in flight.
 */
export class Activation {
  status: number = ACTIVATING;
  state: unknown = undefined;
  epoch = 0;
  /** Set by every call; the idle sweep turns it into a timestamp. */
  touched = true;
  lastActivity: number;
  deactivateRequested = false;
  /** Counted in the active-activations gauge. */
  counted = false;
  /** Bytes of the state at the end of the last successful turn (or at load). */
  private currentBytes: Uint8Array | undefined = undefined;
  /** The fingerprint of the state `currentBytes` holds. */
  private currentPrint = "";
  /** Bytes last written to (or read from) the Store. */
  private savedBytes: Uint8Array | undefined = undefined;
  private mailbox: (Envelope | undefined)[] = [];
  private head = 0;
  private exclusive = false;
  private readers = 0;
  private running = 0;
  private pumping = false;
  private flushing = false;
  private held: SaveWaiter[] = [];
  private openTurns: TurnContext[] | undefined = undefined;
  private timers: Set<TimerEntry> | undefined = undefined;
  private waiters: QuietWaiter[] | undefined = undefined;
  private dropError: unknown = undefined;

  /** When the activation was created (introspection: `system.listActivations()`). */
  readonly since: number;

  constructor(
    readonly host: ActivationHost,
    readonly target: Target,
  ) {
    this.lastActivity = host.clock.now();
    this.since = this.lastActivity;
  }

  get definition(): CompiledDefinition {
    return this.target.definition;
  }

  /** The hot path: run at once when nothing waits and the turn rules allow it. */
  request(
    action: CompiledAction,
    args: readonly unknown[],
    chain: readonly string[],
  ): Promise<unknown> {
    if (
      this.status === ACTIVE &&
      this.head === this.mailbox.length &&
      (action.interleave ||
        (action.readOnly ? !this.exclusive : !this.exclusive && this.readers === 0))
    ) {
      return this.runDirect(action, args, chain);
    }
    return new Promise((resolve, reject) => {
      this.submit(new Envelope(this.target, action, args, chain, resolve, reject));
    });
  }

  private runDirect(
    action: CompiledAction,
    args: readonly unknown[],
    chain: readonly string[],
  ): Promise<unknown> {
    const mode: Mode = action.interleave ? INTERLEAVE : action.readOnly ? READ : WRITE;
    this.touched = true;
    this.enter(mode);
    const ctx = new TurnContext(this, chain);
    let result: unknown;
    try {
      result = action.handler(ctx, ...args);
    } catch (error) {
      this.endTurn(ctx, mode, action, true);
      this.afterTurn();
      return Promise.reject(error);
    }
    if (isThenable(result)) {
      return new Promise((resolve, reject) => {
        const envelope = new Envelope(this.target, action, args, chain, resolve, reject);
        envelope.arm(this.host.deadlines, this.definition.callTimeoutMs);
        result.then(
          (value) => this.finish(envelope, ctx, mode, false, value),
          (error: unknown) => this.finish(envelope, ctx, mode, true, error),
        );
      });
    }
    const outcome = this.endTurn(ctx, mode, action, false);
    let reply: Promise<unknown>;
    if (outcome === OK) reply = Promise.resolve(result);
    else if (outcome === HOLD) {
      reply = new Promise((resolve, reject) => {
        const envelope = new Envelope(this.target, action, args, chain, resolve, reject);
        envelope.value = result;
        this.hold(envelope);
      });
    } else reply = Promise.reject(outcome);
    this.afterTurn();
    return reply;
  }

  /** The general path: reentry, immediate start, or the mailbox. */
  submit(envelope: Envelope): void {
    if (this.status === DEAD) {
      this.host.redispatch(envelope);
      return;
    }
    if (envelope.chain.length > 0 && this.reenters(envelope.chain)) {
      this.start(envelope, NESTED);
      return;
    }
    const action = envelope.action;
    if (
      this.status === ACTIVE &&
      this.head === this.mailbox.length &&
      (action.interleave ||
        (action.readOnly ? !this.exclusive : !this.exclusive && this.readers === 0))
    ) {
      this.start(envelope, action.interleave ? INTERLEAVE : action.readOnly ? READ : WRITE);
      return;
    }
    if (this.mailbox.length - this.head >= this.definition.mailboxSize) {
      const { address } = this.target;
      envelope.fail(
        new TroupeError(
          "MAILBOX_FULL",
          `actor ${address.type}/${address.key}: mailbox full (${this.definition.mailboxSize} calls waiting); the call to "${action.name}" was rejected — retry later or raise mailboxSize`,
          { details: { address, action: action.name, mailboxSize: this.definition.mailboxSize } },
        ),
      );
      return;
    }
    this.mailbox.push(envelope);
    envelope.arm(this.host.deadlines, this.definition.callTimeoutMs);
  }

  private reenters(chain: readonly string[]): boolean {
    const open = this.openTurns;
    if (open === undefined) return false;
    for (const turn of open) if (turn.id !== undefined && chain.includes(turn.id)) return true;
    return false;
  }

  /** Called by a turn context that got an id: calls carrying it may re-enter. */
  openTurn(ctx: TurnContext): void {
    if (this.openTurns === undefined) this.openTurns = [];
    this.openTurns.push(ctx);
  }

  private enter(mode: Mode): void {
    this.running++;
    if (mode === WRITE) this.exclusive = true;
    else if (mode === READ) this.readers++;
  }

  private start(envelope: Envelope, mode: Mode): void {
    if (envelope.keepAlive) this.touched = true;
    this.enter(mode);
    const ctx = new TurnContext(this, envelope.chain);
    let result: unknown;
    try {
      result = envelope.action.handler(ctx, ...envelope.args);
    } catch (error) {
      this.finish(envelope, ctx, mode, true, error);
      return;
    }
    if (isThenable(result)) {
      if (envelope.resolve !== undefined)
        envelope.arm(this.host.deadlines, this.definition.callTimeoutMs);
      result.then(
        (value) => this.finish(envelope, ctx, mode, false, value),
        (error: unknown) => this.finish(envelope, ctx, mode, true, error),
      );
    } else this.finish(envelope, ctx, mode, false, result);
  }

  private finish(
    envelope: Envelope,
    ctx: TurnContext,
    mode: Mode,
    failed: boolean,
    valueOrError: unknown,
  ): void {
    const outcome = this.endTurn(ctx, mode, envelope.action, failed);
    if (failed) envelope.fail(valueOrError);
    else if (outcome === OK) {
      envelope.value = valueOrError;
      envelope.ok();
    } else if (outcome === HOLD) {
      envelope.value = valueOrError;
      this.hold(envelope);
    } else envelope.fail(outcome);
    this.afterTurn();
  }

  /**
   * Leaves the turn: releases the turn lock, rolls back a failed write turn ("after-turn" mode),
   * and detects a state change. Returns OK (reply now), HOLD (reply after the write) or the error
   * to fail the call with.
   */
  private endTurn(
    ctx: TurnContext,
    mode: Mode,
    action: CompiledAction,
    failed: boolean,
  ): typeof OK | typeof HOLD | Error {
    ctx.done = true;
    if (ctx.id !== undefined && this.openTurns !== undefined) {
      const index = this.openTurns.indexOf(ctx);
      if (index >= 0) this.openTurns.splice(index, 1);
      if (this.openTurns.length === 0) this.openTurns = undefined;
    }
    this.running--;
    if (mode === WRITE) this.exclusive = false;
    else if (mode === READ) this.readers--;
    if (this.status === DEAD) return failed ? OK : this.deadError();
    if (this.definition.saveMode !== "after-turn") return OK;
    // Nested and interleaving turns run inside or beside a write turn: that turn's end takes
    // their changes, and rolling back here would undo its half-done work.
    const owns = mode === WRITE || (mode === INTERLEAVE && !action.readOnly && !this.exclusive);
    if (owns) {
      if (failed) {
        this.rollback();
        return OK;
      }
      const print = fingerprint(this.state);
      if (print !== this.currentPrint) {
        const checked = this.definition.state.safeParse(this.state);
        if (!checked.success) {
          this.rollback();
          return zodFieldError(
            `${this.definition.name} state after "${action.name}"`,
            checked.error,
          );
        }
        this.snapshot(print);
        return HOLD;
      }
    }
    // A reply must not reveal state that is not durable yet.
    return this.flushing || this.held.length > 0 ? HOLD : OK;
  }

  /** Records the current state as the latest good one (to write, and to roll back to). */
  private snapshot(print = fingerprint(this.state)): void {
    this.currentBytes = encodeState(this.state, print);
    this.currentPrint = print;
  }

  private rollback(): void {
    if (this.currentBytes !== undefined) this.state = jsonCodec.decode(this.currentBytes);
  }

  private deadError(): Error {
    return this.dropError instanceof Error
      ? this.dropError
      : new TroupeError("CLOSED", `actor ${this.target.id} was deactivated`);
  }

  private afterTurn(): void {
    if (this.head < this.mailbox.length) this.pump();
    if (this.deactivateRequested && this.status === ACTIVE) {
      this.deactivateRequested = false;
      void this.deactivate("requested");
    }
    if (this.waiters !== undefined) this.notify();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.head < this.mailbox.length && this.status === ACTIVE) {
        const envelope = this.mailbox[this.head] as Envelope;
        if (envelope.settled) {
          this.mailbox[this.head++] = undefined;
          continue;
        }
        const action = envelope.action;
        if (!action.interleave && (this.exclusive || (!action.readOnly && this.readers > 0))) break;
        this.mailbox[this.head++] = undefined;
        this.start(envelope, action.interleave ? INTERLEAVE : action.readOnly ? READ : WRITE);
      }
      if (this.head === this.mailbox.length) {
        this.mailbox.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.mailbox.length) {
        this.mailbox.splice(0, this.head);
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
  }

  private hold(waiter: SaveWaiter): void {
    this.held.push(waiter);
    if (!this.flushing) void this.flush();
  }

  /** `ctx.save()`: validate and snapshot now, write with the next flush. */
  saveNow(): Promise<void> {
    if (this.status === DEAD) return Promise.reject(this.deadError());
    const checked = this.definition.state.safeParse(this.state);
    if (!checked.success) {
      return Promise.reject(zodFieldError(`${this.definition.name} state`, checked.error));
    }
    this.snapshot();
    return new Promise((resolve, reject) => {
      this.hold({ ok: () => resolve(), fail: reject });
    });
  }

  /** Writes `currentBytes` (serialised, batched), then answers the waiters it covers. */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.held.length > 0) {
        const batch = this.held;
        this.held = [];
        const bytes = this.currentBytes;
        if (bytes !== undefined && bytes !== this.savedBytes) {
          try {
            await this.write(bytes);
          } catch (error) {
            for (const waiter of batch) waiter.fail(error);
            this.drop(error);
            return;
          }
          this.savedBytes = bytes;
        }
        for (const waiter of batch) waiter.ok();
      }
    } finally {
      this.flushing = false;
      this.afterTurn();
    }
  }

  /** One fenced state write. A failed fence means another activation took over: LEASE_LOST. */
  private async write(bytes: Uint8Array): Promise<void> {
    const { address } = this.target;
    try {
      await this.host.store.commit([
        ...this.host.directory.fence(address, this.epoch),
        { type: "set", key: this.host.stateKey(this.target), value: bytes },
      ]);
      this.host.saved();
    } catch (error) {
      if (StoreConflictError.isInstance(error)) {
        throw new TroupeError(
          "LEASE_LOST",
          `actor ${address.type}/${address.key}: another activation took over (epoch ${this.epoch} is no longer current); this write was rejected and the activation dropped`,
          { cause: error, details: { address, epoch: this.epoch } },
        );
      }
      throw error;
    }
  }

  /** Ends the activation after a failed write: its memory is no longer trustworthy. */
  drop(error: unknown): void {
    if (this.status === DEAD) return;
    this.host.logger.warn("actor activation dropped", {
      address: this.target.address,
      error: error instanceof Error ? error.message : String(error),
    });
    this.dropError = error;
    this.status = DEAD;
    this.cancelTimers();
    const held = this.held;
    this.held = [];
    for (const waiter of held) waiter.fail(error);
    this.host.removed(this);
    this.redispatchMailbox();
    if (this.waiters !== undefined) this.notify();
  }

  private redispatchMailbox(): void {
    const waiting = this.mailbox.slice(this.head);
    this.mailbox = [];
    this.head = 0;
    for (const envelope of waiting)
      if (envelope && !envelope.settled) this.host.redispatch(envelope);
  }

  /** Claims (unless `ownership` is given), loads the state, runs onActivate, then opens. */
  async boot(ownership: Ownership | undefined): Promise<void> {
    const { address } = this.target;
    const definition = this.definition;
    try {
      const owned = ownership ?? (await this.host.directory.claim(address));
      this.epoch = owned.epoch;
      const entry = await this.host.store.get(this.host.stateKey(this.target));
      if (entry !== undefined) {
        const checked = definition.state.safeParse(jsonCodec.decode(entry.value));
        if (!checked.success) {
          throw zodFieldError(`${definition.name}/${address.key} stored state`, checked.error);
        }
        this.state = checked.data;
        this.snapshot();
        this.savedBytes = this.currentBytes;
      } else {
        const checked = definition.state.safeParse(definition.initialState(this.target.keyValue));
        if (!checked.success) {
          throw zodFieldError(`${definition.name} initialState`, checked.error);
        }
        this.state = checked.data;
        this.snapshot();
      }
      if (definition.onActivate !== undefined) await this.runHook(definition.onActivate);
    } catch (error) {
      this.status = DEAD;
      this.dropError = error;
      this.host.removed(this);
      if (this.epoch > 0) {
        await this.host.directory.release(address, this.epoch).catch(() => {});
      }
      const waiting = this.mailbox.slice(this.head);
      this.mailbox = [];
      this.head = 0;
      const moved = TroupeError.isInstance(error, "STORE_CONFLICT") && this.epoch === 0;
      for (const envelope of waiting) {
        if (envelope === undefined || envelope.settled) continue;
        // The claim lost to a live owner elsewhere: local callers are routed there, remote ones
        // are told the actor moved.
        if (moved && !envelope.fromRemote) this.host.redispatch(envelope);
        else envelope.fail(moved ? movedError(address) : error);
      }
      return;
    }
    this.status = ACTIVE;
    this.host.activated(this);
    this.afterTurn();
  }

  /** Runs a lifecycle hook as an exclusive turn and saves what it changed (after-turn mode). */
  private async runHook(
    hook: (ctx: unknown, reason: DeactivationReason) => unknown,
    reason?: DeactivationReason,
  ): Promise<void> {
    const ctx = new TurnContext(this, []);
    this.enter(WRITE);
    try {
      await (reason === undefined ? (hook as (ctx: unknown) => unknown)(ctx) : hook(ctx, reason));
    } catch (error) {
      this.endTurn(ctx, WRITE, HOOK_ACTION, true);
      throw error;
    }
    const outcome = this.endTurn(ctx, WRITE, HOOK_ACTION, false);
    if (outcome instanceof Error) throw outcome;
    await this.settleWrites();
  }

  /** Writes a pending change and waits until no write is in flight. */
  private async settleWrites(): Promise<void> {
    if (this.currentBytes !== this.savedBytes && this.currentBytes !== undefined) {
      if (this.definition.saveMode === "after-turn") {
        await new Promise<void>((resolve, reject) => this.hold({ ok: resolve, fail: reject }));
      }
    }
    if (this.flushing) await this.until(() => !this.flushing);
  }

  /** Resolves once `check` holds (re-checked after every turn and write). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.waiters === undefined) this.waiters = [];
      this.waiters.push({ check, resolve });
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    if (waiters === undefined) return;
    const remaining = waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
    this.waiters = remaining.length > 0 ? remaining : undefined;
  }

  /** No turn running, no write in flight, nothing waiting. */
  isQuiet(): boolean {
    return (
      this.running === 0 &&
      !this.flushing &&
      this.held.length === 0 &&
      this.head === this.mailbox.length
    );
  }

  /** Not running anything (the mailbox may hold calls). */
  private isIdle(): boolean {
    return this.running === 0 && !this.flushing && this.held.length === 0;
  }

  /** Resolves when the activation has nothing running or waiting, or has ended. */
  drained(): Promise<void> {
    return this.until(() => this.status === DEAD || (this.status === ACTIVE && this.isQuiet()));
  }

  /**
   * Deactivates: waits for running turns, stops timers, runs onDeactivate, saves (after-turn
   * mode), releases the claim, and sends calls that arrived meanwhile to a fresh activation.
   */
  async deactivate(reason: DeactivationReason): Promise<void> {
    if (this.status !== ACTIVE) return;
    this.status = DEACTIVATING;
    const { address } = this.target;
    await this.until(() => this.isIdle());
    this.cancelTimers();
    if (this.status !== DEACTIVATING) return;
    try {
      if (this.definition.onDeactivate !== undefined)
        await this.runHook(this.definition.onDeactivate, reason);
      else await this.settleWrites();
    } catch (error) {
      this.host.logger.warn("actor deactivation could not save", {
        address,
        reason,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    // A failed write may have dropped the activation meanwhile.
    if ((this.status as number) === DEAD) return;
    this.status = DEAD;
    this.host.removed(this);
    try {
      await this.host.directory.release(address, this.epoch);
    } catch (error) {
      this.host.logger.warn("actor claim release failed", {
        address,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    this.redispatchMailbox();
    this.notify();
  }

  /** `ctx.setTimer`: a volatile timer whose firings run as turns. */
  setTimer(
    options: TimerOptions,
    callback: (ctx: ActorContext<unknown, unknown>) => unknown,
  ): ActorTimer {
    validateTimerOptions(options);
    if (typeof callback !== "function") {
      throw new TroupeError("INVALID_ARGUMENT", "setTimer.callback: expected a function", {
        details: { field: "setTimer.callback" },
      });
    }
    const action: CompiledAction = {
      name: "@timer",
      handler: callback as CompiledAction["handler"],
      readOnly: false,
      interleave: false,
      args: undefined,
    };
    const entry: TimerEntry = {
      handle: undefined,
      cancelled: false,
      cancel: () => {
        entry.cancelled = true;
        entry.handle?.cancel();
        this.timers?.delete(entry);
      },
    };
    const fire = () => {
      entry.handle = undefined;
      if (entry.cancelled || this.status !== ACTIVE) return;
      if (options.periodMs !== undefined)
        entry.handle = this.host.clock.setTimer(options.periodMs, fire);
      else this.timers?.delete(entry);
      const envelope = new Envelope(this.target, action, [], [], undefined, (error) =>
        this.host.logger.warn("actor timer failed", {
          address: this.target.address,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
      envelope.keepAlive = options.keepAlive === true;
      this.submit(envelope);
    };
    entry.handle = this.host.clock.setTimer(options.afterMs, fire);
    if (this.timers === undefined) this.timers = new Set();
    this.timers.add(entry);
    return entry;
  }

  private cancelTimers(): void {
    if (this.timers === undefined) return;
    for (const timer of this.timers) {
      timer.cancelled = true;
      timer.handle?.cancel();
    }
    this.timers = undefined;
  }
}

const HOOK_ACTION: CompiledAction = {
  name: "@lifecycle",
  handler: () => undefined,
  readOnly: false,
  interleave: false,
  args: undefined,
};

/** The error a node answers with when it does not own an actor (mapped to a `moved` reply). */
export function movedError(address: ActorAddress): TroupeError {
  return new TroupeError("MOVED", `actor ${address.type}/${address.key} is owned by another node`, {
    details: { address },
  });
}

function validateTimerOptions(options: TimerOptions): void {
  const bad = (field: string, problem: string) =>
    new TroupeError("INVALID_ARGUMENT", `setTimer.${field}: ${problem}`, {
      details: { field: `setTimer.${field}` },
    });
  if (typeof options !== "object" || options === null) throw bad("options", "expected an object");
  if (!Number.isInteger(options.afterMs) || options.afterMs < 0) {
    throw bad("afterMs", `expected a non-negative integer, got ${String(options.afterMs)}`);
  }
  if (
    options.periodMs !== undefined &&
    (!Number.isInteger(options.periodMs) || options.periodMs < 1)
  ) {
    throw bad("periodMs", `expected a positive integer, got ${String(options.periodMs)}`);
  }
}
