import { invalidArgument, TroupeError } from "@troupe/core";
import type { Activation } from "./activation.js";
import type {
  ActorContext,
  ActorContextCore,
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
  /** Methods added with `ActorSystem.extendContext`, by name. */
  readonly extensions: ReadonlyMap<string, ContextExtension>;
}

/** A method added to every turn's context: it gets the context, then the caller's arguments. */
export type ContextExtension = (ctx: ActorContext<unknown, unknown>, ...args: never[]) => unknown;

/** Ids of the turns up a call chain; bounded so references kept in state cannot grow it forever. */
const MAX_CHAIN = 32;

/** The context handed to one turn. Cheap: the call chain is only built when the turn calls out. */
export class TurnContext implements ActorContextCore<unknown, unknown> {
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

/** Names on the context that an extension may not take (its own members and fields). */
const OWN_FIELDS = new Set(["id", "done", "outChain", "activation", "chain", "constructor"]);
const slots = new Set<string>();

/**
 * Checks an extension's name and gives `TurnContext` a method of that name (once per process)
 * that calls the extension registered under it in the turn's own system — so two systems in
 * one process each see their own — or fails naming the method when that system has none.
 */
export function ensureExtensionSlot(name: string): void {
  if (typeof name !== "string" || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) {
    throw invalidArgument("extendContext.name", "expected an identifier");
  }
  if (slots.has(name)) return;
  if (OWN_FIELDS.has(name) || name in TurnContext.prototype) {
    throw invalidArgument("extendContext.name", `ctx.${name} is a member of the context itself`);
  }
  Object.defineProperty(TurnContext.prototype, name, {
    value(this: TurnContext, ...args: unknown[]) {
      const method = this.activation.deps.services.extensions.get(name);
      if (method === undefined) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `ctx.${name}: this actor system has no such method (the package that provides it adds it with extendContext)`,
          { details: { method: name } },
        );
      }
      return (method as (ctx: unknown, ...rest: unknown[]) => unknown)(this, ...args);
    },
  });
  slots.add(name);
}
