import { invalidArgument, parseWith } from "@troupe/core";
import {
  type AnyActorDefinition,
  type CompiledAction,
  type CompiledDefinition,
  compiledOf,
  type KeyKind,
  normalizeKey,
  type SaveMode,
} from "./define.js";
import type { Target } from "./envelope.js";
import { unknownAction } from "./errors.js";

/** An actor type as {@link ActorSystem.types} describes it (for tooling such as a REST API). */
export interface ActorTypeInfo {
  /** The type name. */
  readonly name: string;
  /** How the type is keyed: `"string"`, `"integer"` or `"none"`. */
  readonly keyKind: KeyKind;
  /** The callable actions (reminder handlers are not listed). */
  readonly actions: readonly {
    readonly name: string;
    readonly readOnly: boolean;
    readonly interleave: boolean;
  }[];
  /** Idle time before deactivation, in ms. */
  readonly idleTimeoutMs: number;
  /** `"after-turn"` or `"explicit"`. */
  readonly saveMode: SaveMode;
}

/**
 * The actor types a system hosts: looked up by definition (typed references) or by name (calls
 * from outside), with the checks those lookups need — keys by kind, arguments by schema.
 */
export class ActorTypes {
  private readonly byDefinition = new Map<AnyActorDefinition, CompiledDefinition>();
  private readonly byName = new Map<string, CompiledDefinition>();
  /** The shortest idle timeout of any type (infinite with none). */
  readonly shortestIdleMs: number;

  constructor(actors: readonly AnyActorDefinition[]) {
    let shortestIdle = Number.POSITIVE_INFINITY;
    actors.forEach((definition, index) => {
      const compiled = compiledOf(definition);
      if (compiled === undefined) {
        throw invalidArgument(
          `createActorSystem.actors.${index}`,
          "expected a definition from defineActor",
        );
      }
      if (this.byName.has(compiled.name)) {
        throw invalidArgument(
          `createActorSystem.actors.${index}`,
          `two actor types are named ${JSON.stringify(compiled.name)}`,
        );
      }
      this.byDefinition.set(definition, compiled);
      this.byName.set(compiled.name, compiled);
      shortestIdle = Math.min(shortestIdle, compiled.idleTimeoutMs);
    });
    this.shortestIdleMs = shortestIdle;
  }

  /** Every hosted type, in registration order. */
  all(): IterableIterator<CompiledDefinition> {
    return this.byName.values();
  }

  /** The registered type of `definition`; INVALID_ARGUMENT (field `definition`) otherwise. */
  ofDefinition(definition: AnyActorDefinition): CompiledDefinition {
    const compiled = this.byDefinition.get(definition);
    if (compiled !== undefined) return compiled;
    const name = compiledOf(definition)?.name;
    throw invalidArgument(
      "definition",
      name === undefined
        ? "expected a definition from defineActor"
        : `actor type ${JSON.stringify(name)} is not registered with this system (pass it in createActorSystem({ actors }))`,
    );
  }

  /** The type named `type`, or undefined. */
  find(type: string): CompiledDefinition | undefined {
    return this.byName.get(type);
  }

  /** The type named `type`; INVALID_ARGUMENT naming `field` otherwise. */
  named(type: string, field = "type"): CompiledDefinition {
    const compiled = this.byName.get(type);
    if (compiled === undefined) {
      throw invalidArgument(field, `unknown actor type ${JSON.stringify(type)}`);
    }
    return compiled;
  }

  /** A callable action (not a reminder handler) of `compiled`; INVALID_ARGUMENT otherwise. */
  action(compiled: CompiledDefinition, action: string): CompiledAction {
    const found = compiled.actions.get(action);
    if (found === undefined || action.startsWith("@")) throw unknownAction(compiled, action);
    return found;
  }

  /** Where calls to the actor of `compiled` with `key` go; the key is checked by kind. */
  target(compiled: CompiledDefinition, key: unknown): Target {
    const keyString = normalizeKey(compiled.keyKind, key, compiled.name);
    return {
      definition: compiled,
      address: { type: compiled.name, key: keyString },
      id: `${compiled.name}/${keyString}`,
      keyValue: compiled.keyKind === "none" ? undefined : key,
    };
  }

  /** The target of an address key as it travels (between nodes, in reminders). */
  targetOfAddressKey(compiled: CompiledDefinition, addressKey: string): Target {
    const key =
      compiled.keyKind === "integer"
        ? /^-?\d+$/.test(addressKey)
          ? Number(addressKey)
          : addressKey
        : compiled.keyKind === "none"
          ? undefined
          : addressKey;
    return this.target(compiled, key);
  }

  /** Arguments from outside the process, checked with the action's `args` schema when it has one. */
  checkArgs(
    compiled: CompiledDefinition,
    action: CompiledAction,
    args: readonly unknown[],
  ): readonly unknown[] {
    if (action.args === undefined) return args;
    return parseWith(
      action.args,
      args,
      `${compiled.name}.${action.name}.args`,
    ) as readonly unknown[];
  }

  /** The hosted types, as tooling lists them. */
  info(): ActorTypeInfo[] {
    return [...this.byName.values()].map((compiled) => ({
      name: compiled.name,
      keyKind: compiled.keyKind,
      actions: compiled.actionNames.map((name) => {
        const action = compiled.actions.get(name) as CompiledAction;
        return { name, readOnly: action.readOnly, interleave: action.interleave };
      }),
      idleTimeoutMs: compiled.idleTimeoutMs,
      saveMode: compiled.saveMode,
    }));
  }
}
