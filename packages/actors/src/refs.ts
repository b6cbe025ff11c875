import { parseWith } from "@troupe/core";
import { z } from "zod";
import type { Activation } from "./activation.js";
import type {
  ActorRefJson,
  AnyActorDefinition,
  CompiledAction,
  CompiledDefinition,
  UntypedActorRef,
} from "./define.js";
import type { ActorAddress } from "./directory.js";
import type { Target } from "./envelope.js";
import { unknownAction } from "./errors.js";
import type { ActorTypes } from "./registry.js";

/** Where a reference's calls go (the system's router). */
export interface CallPort {
  /** A request/response call. */
  request(ref: RefBase, action: CompiledAction, args: readonly unknown[]): Promise<unknown>;
  /** A one-way send: failures are logged. */
  tell(ref: RefBase, action: CompiledAction, args: readonly unknown[]): void;
}

/** The reference calls that carry no call chain (made outside any turn). */
export const EMPTY_CHAIN: readonly string[] = Object.freeze([]);

const refJsonSchema = z.object({
  type: z.string().min(1),
  key: z.union([z.string(), z.number(), z.null()]),
});

/**
 * How a reference reaches its activation without a map lookup: the activation's own slot, which
 * holds it while it lives and is emptied when it ends. A reference kept for long (in a cache, in
 * a closure) so never keeps a dead activation, its state or its memory alive.
 */
export interface ActivationSlot {
  current: Activation | undefined;
}

/** The slot of a reference that has not reached an activation yet; it is never written. */
const NO_ACTIVATION: ActivationSlot = { current: undefined };

/** The base of every reference: target, chain and a cached activation. */
export class RefBase {
  /** The slot of the activation last used, so the hot path skips the map lookup. */
  slot: ActivationSlot = NO_ACTIVATION;
  private senders: Record<string, (...args: unknown[]) => void> | undefined = undefined;

  constructor(
    readonly target: Target,
    readonly chain: readonly string[],
    readonly calls: CallPort,
  ) {}

  get type(): string {
    return this.target.address.type;
  }

  get key(): unknown {
    return this.target.keyValue;
  }

  get address(): ActorAddress {
    return this.target.address;
  }

  get send(): Record<string, (...args: unknown[]) => void> {
    if (this.senders === undefined) {
      const senders: Record<string, (...args: unknown[]) => void> = {};
      for (const name of this.target.definition.actionNames) {
        const action = this.target.definition.actions.get(name) as CompiledAction;
        senders[name] = (...args: unknown[]) => this.calls.tell(this, action, args);
      }
      this.senders = senders;
    }
    return this.senders;
  }

  call(action: string, ...args: unknown[]): Promise<unknown> {
    const compiled = this.target.definition.actions.get(action);
    if (compiled === undefined || action.startsWith("@")) {
      return Promise.reject(unknownAction(this.target.definition, action));
    }
    return this.calls.request(this, compiled, args);
  }

  tell(action: string, ...args: unknown[]): void {
    const compiled = this.target.definition.actions.get(action);
    if (compiled === undefined || action.startsWith("@"))
      throw unknownAction(this.target.definition, action);
    this.calls.tell(this, compiled, args);
  }

  toJSON(): ActorRefJson {
    const key = this.target.keyValue;
    return {
      type: this.target.address.type,
      key: key === undefined ? null : (key as string | number),
    };
  }
}

type RefClass = new (target: Target, chain: readonly string[]) => RefBase;

/**
 * Makes references: one class per actor type with a prototype method per action (no proxies on
 * the hot path), each method handing the call straight to the router.
 */
export class References {
  private readonly classes = new Map<CompiledDefinition, RefClass>();

  constructor(
    private readonly types: ActorTypes,
    calls: CallPort,
  ) {
    for (const compiled of types.all()) this.classes.set(compiled, refClass(compiled, calls));
  }

  /** A reference to `target` carrying `chain`. */
  of(target: Target, chain: readonly string[]): RefBase {
    const RefClass = this.classes.get(target.definition) as RefClass;
    return new RefClass(target, chain);
  }

  /** A typed reference (`system.get`, `ctx.get`). */
  typed(definition: AnyActorDefinition, key: unknown, chain: readonly string[]): unknown {
    const compiled = this.types.ofDefinition(definition);
    return this.of(this.types.target(compiled, key), chain);
  }

  /** An untyped reference to a target (`ctx.self`). */
  untyped(target: Target, chain: readonly string[]): UntypedActorRef {
    return this.of(target, chain) as unknown as UntypedActorRef;
  }

  /** Revives a serialised reference; checks its type and key. */
  revive(json: ActorRefJson, chain: readonly string[]): UntypedActorRef {
    const checked = parseWith(refJsonSchema, json, "ref");
    const compiled = this.types.named(checked.type, "ref.type");
    const key = checked.key === null ? undefined : checked.key;
    return this.untyped(this.types.target(compiled, key), chain);
  }
}

function refClass(compiled: CompiledDefinition, calls: CallPort): RefClass {
  class Ref extends RefBase {
    constructor(target: Target, chain: readonly string[]) {
      super(target, chain, calls);
    }
  }
  for (const name of compiled.actionNames) {
    const action = compiled.actions.get(name) as CompiledAction;
    Object.defineProperty(Ref.prototype, name, {
      value: function (this: RefBase, ...args: unknown[]) {
        return calls.request(this, action, args);
      },
    });
  }
  return Ref;
}
