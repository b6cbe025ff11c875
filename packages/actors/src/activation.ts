import { jsonCodec, type StoreOp, TroupeError, zodIssueError } from "@troupe/core";
import type { ActivationDeps } from "./activation-deps.js";
import { ActivationTimers } from "./activation-timers.js";
import { ActivationWaiters } from "./activation-waiters.js";
import type {
  ActorContext,
  ActorTimer,
  CompiledAction,
  CompiledDefinition,
  DeactivationReason,
  TimerOptions,
} from "./define.js";
import type { Ownership } from "./directory.js";
import { Envelope, type SaveWaiter, type Target } from "./envelope.js";
import { errorMessage, movedError } from "./errors.js";
import {
  ACTIVATING,
  ACTIVE,
  admits,
  DEACTIVATING,
  DEAD,
  NESTED,
  nextStatus,
  ownsState,
  READ,
  type Status,
  type TurnMode,
  turnMode,
  WRITE,
} from "./lifecycle.js";
import type { ActivationSlot } from "./refs.js";
import { encodeState, fingerprint } from "./state-encoding.js";
import { TurnContext } from "./turn-context.js";

// A turn's end: reply now, or hold the reply until the state write is durable.
const OK = 0;
const HOLD = 1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * One actor in memory: its state, its mailbox and the turn rules. A call runs at once when the
 * rules allow (the hot path: no queueing, no timer, no Store access when state did not change),
 * otherwise it waits in the bounded mailbox. In "after-turn" mode a turn that changed the state
 * has its reply held until the write is durable; writes are serialised and batched, so turns keep
 * running while one is in flight.
 */
export class Activation {
  status: Status = ACTIVATING;
  state: unknown = undefined;
  epoch = 0;
  /** Token fencing: the fence record version `states.load` installed. */
  private fence: number | undefined;
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
  private timers: ActivationTimers | undefined = undefined;
  private readonly waiters = new ActivationWaiters();
  private dropError: unknown = undefined;

  /** When the activation was created (introspection: `system.listActivations()`). */
  readonly since: number;
  /** What references cache to reach this activation; emptied when it ends (see `leave`). */
  readonly slot: ActivationSlot = { current: this };

  constructor(
    readonly deps: ActivationDeps,
    readonly target: Target,
  ) {
    this.lastActivity = deps.clock.now();
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
      admits(action, this.exclusive, this.readers)
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
    const mode = turnMode(action);
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
        envelope.arm(this.deps.deadlines, this.definition.callTimeoutMs);
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
      this.deps.router.redispatch(envelope);
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
      admits(action, this.exclusive, this.readers)
    ) {
      this.start(envelope, turnMode(action));
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
    envelope.arm(this.deps.deadlines, this.definition.callTimeoutMs);
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

  private enter(mode: TurnMode): void {
    this.running++;
    if (mode === WRITE) this.exclusive = true;
    else if (mode === READ) this.readers++;
  }

  private start(envelope: Envelope, mode: TurnMode): void {
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
        envelope.arm(this.deps.deadlines, this.definition.callTimeoutMs);
      result.then(
        (value) => this.finish(envelope, ctx, mode, false, value),
        (error: unknown) => this.finish(envelope, ctx, mode, true, error),
      );
    } else this.finish(envelope, ctx, mode, false, result);
  }

  private finish(
    envelope: Envelope,
    ctx: TurnContext,
    mode: TurnMode,
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
    mode: TurnMode,
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
    if (ownsState(mode, action, this.exclusive)) {
      if (failed) {
        this.rollback();
        return OK;
      }
      const print = fingerprint(this.state);
      if (print !== this.currentPrint) {
        const checked = this.definition.state.safeParse(this.state);
        if (!checked.success) {
          this.rollback();
          return zodIssueError(
            checked.error,
            `${this.definition.name} state after "${action.name}"`,
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
    if (this.waiters.waiting) this.waiters.notify();
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
        if (!admits(action, this.exclusive, this.readers)) break;
        this.mailbox[this.head++] = undefined;
        this.start(envelope, turnMode(action));
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
      return Promise.reject(zodIssueError(checked.error, `${this.definition.name} state`));
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
            await this.deps.states.write(this.target, this.epoch, bytes, this.fence);
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

  /** Ends the activation after a failed write: its memory is no longer trustworthy. */
  drop(error: unknown): void {
    if (this.status === DEAD) return;
    this.deps.logger.warn("actor activation dropped", {
      address: this.target.address,
      error: errorMessage(error),
    });
    this.dropError = error;
    this.status = nextStatus(this.status, "dropped");
    this.timers?.cancelAll();
    const held = this.held;
    this.held = [];
    for (const waiter of held) waiter.fail(error);
    this.leave();
    this.redispatchMailbox();
    if (this.waiters.waiting) this.waiters.notify();
  }

  /** Gone (status DEAD): references stop reaching it (and keeping it alive), the table forgets it. */
  private leave(): void {
    this.slot.current = undefined;
    this.deps.table.removed(this);
  }

  private redispatchMailbox(): void {
    const waiting = this.mailbox.slice(this.head);
    this.mailbox = [];
    this.head = 0;
    for (const envelope of waiting)
      if (envelope && !envelope.settled) this.deps.router.redispatch(envelope);
  }

  /** Claims (unless `ownership` is given), loads the state, runs onActivate, then opens. */
  async boot(ownership: Ownership | undefined): Promise<void> {
    const { address } = this.target;
    try {
      const owned = ownership ?? (await this.deps.directory.claim(address));
      this.epoch = owned.epoch;
      const loaded = await this.deps.states.load(this.target, this.epoch);
      this.fence = loaded.fence;
      this.state = loaded.state;
      this.snapshot();
      if (loaded.stored) this.savedBytes = this.currentBytes;
      const onActivate = this.definition.onActivate;
      if (onActivate !== undefined) await this.runHook(onActivate);
    } catch (error) {
      this.status = nextStatus(this.status, "failed");
      this.dropError = error;
      this.leave();
      if (this.epoch > 0) {
        await this.deps.directory.release(address, this.epoch).catch(() => {});
      }
      const waiting = this.mailbox.slice(this.head);
      this.mailbox = [];
      this.head = 0;
      const moved = TroupeError.isInstance(error, "STORE_CONFLICT") && this.epoch === 0;
      for (const envelope of waiting) {
        if (envelope === undefined || envelope.settled) continue;
        // The claim lost to a live owner elsewhere: local callers are routed there, remote ones
        // are told the actor moved.
        if (moved && !envelope.fromRemote) this.deps.router.redispatch(envelope);
        else envelope.fail(moved ? movedError(address) : error);
      }
      return;
    }
    this.status = nextStatus(this.status, "ready");
    this.deps.table.activated(this);
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
    return this.waiters.until(check);
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
    this.status = nextStatus(this.status, "deactivate");
    const { address } = this.target;
    await this.until(() => this.isIdle());
    this.timers?.cancelAll();
    if (this.status !== DEACTIVATING) return;
    try {
      if (this.definition.onDeactivate !== undefined)
        await this.runHook(this.definition.onDeactivate, reason);
      else await this.settleWrites();
    } catch (error) {
      this.deps.logger.warn("actor deactivation could not save", {
        address,
        reason,
        error: errorMessage(error),
      });
    }
    // A failed write may have dropped the activation meanwhile.
    if ((this.status as Status) === DEAD) return;
    this.status = nextStatus(this.status, "ended");
    this.leave();
    try {
      await this.deps.directory.release(address, this.epoch);
    } catch (error) {
      this.deps.logger.warn("actor claim release failed", { address, error: errorMessage(error) });
    }
    this.redispatchMailbox();
    this.waiters.notify();
  }

  /** Values kept with this activation in memory only (`activationMemory`); never saved. */
  memory: Map<string, unknown> | undefined = undefined;

  /** Whether none of this activation's own state writes is waiting or in flight (or it ended). */
  writesAreSettled(): boolean {
    return this.status === DEAD || (!this.flushing && this.held.length === 0);
  }

  /** Resolves once none of this activation's own state writes is waiting or in flight. */
  writesSettled(): Promise<void> {
    return this.until(() => this.writesAreSettled());
  }

  /** The ops of a fenced write of `bytes`, for a commit made by someone else (`stageWrite`). */
  fencedWriteOps(bytes: Uint8Array): StoreOp[] {
    return this.deps.states.writeOps(this.target, this.epoch, bytes, this.fence);
  }

  /** `state`, already written as `bytes` by a commit made elsewhere, becomes the saved state. */
  adoptSaved(state: unknown, bytes: Uint8Array, print: string): void {
    if (this.status === DEAD) return;
    this.state = state;
    this.currentBytes = bytes;
    this.currentPrint = print;
    this.savedBytes = bytes;
  }

  /** `ctx.setTimer`: a volatile timer whose firings run as turns. */
  setTimer(
    options: TimerOptions,
    callback: (ctx: ActorContext<unknown, unknown>) => unknown,
  ): ActorTimer {
    if (this.timers === undefined) this.timers = new ActivationTimers(this);
    return this.timers.start(options, callback);
  }
}

const HOOK_ACTION: CompiledAction = {
  name: "@lifecycle",
  handler: () => undefined,
  readOnly: false,
  interleave: false,
  idempotent: false,
  args: undefined,
};
