import type {
  ActorContext,
  ActorRefJson,
  AnyActorDefinition,
  ReminderSchedule,
  TimerOptions,
  UntypedActorRef,
} from "@troupe/actors";
import type { Transaction } from "./transaction.js";
import type { RunOptions } from "./transactions.js";

/** Where a handler's `ctx.state` reads and writes. */
export interface StateSlot {
  get(): unknown;
  set(value: unknown): void;
}

/** The slot of a transaction step: the handler works on `draft`, a copy of the base state. */
export class DraftSlot implements StateSlot {
  constructor(public draft: unknown) {}

  get(): unknown {
    return this.draft;
  }

  set(value: unknown): void {
    this.draft = value;
  }
}

/**
 * The context a transactional actor's handlers see: everything of the actor's own context, but
 * `state` is the committed value (ordinary actions) or a private copy that becomes the prepared
 * state (a step of a transaction), never the `{ value, lock }` record that is stored.
 */
export class ValueContext implements ActorContext<unknown, unknown> {
  constructor(
    private readonly inner: ActorContext<unknown, unknown>,
    private readonly slot: StateSlot,
  ) {}

  get state(): unknown {
    return this.slot.get();
  }

  set state(value: unknown) {
    this.slot.set(value);
  }

  get key(): unknown {
    return this.inner.key;
  }

  get address() {
    return this.inner.address;
  }

  get self(): UntypedActorRef {
    return this.inner.self;
  }

  now(): number {
    return this.inner.now();
  }

  get(definition: AnyActorDefinition, ...key: unknown[]): never {
    return (this.inner.get as (d: AnyActorDefinition, ...k: unknown[]) => never)(
      definition,
      ...key,
    );
  }

  ref(json: ActorRefJson): UntypedActorRef {
    return this.inner.ref(json);
  }

  save(): Promise<void> {
    return this.inner.save();
  }

  setTimer(options: TimerOptions, callback: (ctx: ActorContext<unknown, unknown>) => unknown) {
    const slot = this.slot;
    return this.inner.setTimer(options, (ctx) => callback(new ValueContext(ctx, slot)));
  }

  setReminder(name: string, schedule: ReminderSchedule): Promise<void> {
    return this.inner.setReminder(name, schedule);
  }

  clearReminder(name: string): Promise<void> {
    return this.inner.clearReminder(name);
  }

  deactivate(): void {
    this.inner.deactivate();
  }

  transaction<R>(body: (tx: Transaction) => Promise<R>, options?: RunOptions): Promise<R> {
    return this.inner.transaction(body, options);
  }
}
