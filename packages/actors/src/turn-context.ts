import type { Activation } from "./activation.js";
import type {
  ActorContext,
  ActorRefJson,
  AnyActorDefinition,
  ReminderSchedule,
  TimerOptions,
  UntypedActorRef,
} from "./define.js";
import type { ActorAddress } from "./directory.js";
import type { Target } from "./envelope.js";

/** What a turn's context hands out beyond its own activation: references, reminders, turn ids. */
export interface TurnServices {
  /** A fresh id for a turn that calls out (it joins the call chain). */
  nextTurnId(): string;
  /** References that carry the turn's call chain. */
  readonly refs: {
    typed(definition: AnyActorDefinition, key: unknown, chain: readonly string[]): unknown;
    untyped(target: Target, chain: readonly string[]): UntypedActorRef;
    revive(json: ActorRefJson, chain: readonly string[]): UntypedActorRef;
  };
  /** Durable reminders in the Queue. */
  readonly reminders: {
    set(target: Target, name: string, schedule: ReminderSchedule): Promise<void>;
    clear(target: Target, name: string): Promise<void>;
  };
}

/** Ids of the turns up a call chain; bounded so references kept in state cannot grow it forever. */
const MAX_CHAIN = 32;

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
    return this.activation.deps.services.refs.untyped(this.activation.target, this.callChain());
  }

  now(): number {
    return this.activation.deps.clock.now();
  }

  /** The chain to send with calls made from this turn: the incoming one plus this turn. */
  callChain(): readonly string[] {
    if (this.outChain === undefined) {
      this.id = this.activation.deps.services.nextTurnId();
      const base = this.chain.length >= MAX_CHAIN ? this.chain.slice(1) : this.chain;
      this.outChain = [...base, this.id];
      if (!this.done) this.activation.openTurn(this);
    }
    return this.outChain;
  }

  get(definition: AnyActorDefinition, ...key: unknown[]): never {
    return this.activation.deps.services.refs.typed(definition, key[0], this.callChain()) as never;
  }

  ref(json: ActorRefJson): UntypedActorRef {
    return this.activation.deps.services.refs.revive(json, this.callChain());
  }

  save(): Promise<void> {
    return this.activation.saveNow();
  }

  setTimer(options: TimerOptions, callback: (ctx: ActorContext<unknown, unknown>) => unknown) {
    return this.activation.setTimer(options, callback);
  }

  setReminder(name: string, schedule: ReminderSchedule): Promise<void> {
    return this.activation.deps.services.reminders.set(this.activation.target, name, schedule);
  }

  clearReminder(name: string): Promise<void> {
    return this.activation.deps.services.reminders.clear(this.activation.target, name);
  }

  deactivate(): void {
    this.activation.deactivateRequested = true;
  }
}
