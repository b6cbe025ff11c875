import { invalidArgument } from "@troupe/core";
import type { FlowDriver } from "./driver.js";
import type { FlowEvent } from "./event.js";
import { matches } from "./expression.js";
import type { FunctionDefinition } from "./function.js";

/** A registered function and the driver that runs its code. */
export interface Registered {
  readonly definition: FunctionDefinition;
  readonly driver: FlowDriver;
}

/** The functions an engine runs, and the index of their event triggers. */
export interface FunctionRegistry {
  get(functionId: string): Registered | undefined;
  has(functionId: string): boolean;
  definition(functionId: string): FunctionDefinition | undefined;
  all(): IterableIterator<Registered>;
  /**
   * Adds or replaces a function. Synchronous, so no event is matched against a half-replaced
   * function: the definition, driver and triggers change together. `unique` rejects an id that is
   * already registered.
   */
  register(definition: FunctionDefinition, driver: FlowDriver, mode?: "replace" | "unique"): void;
  /** Removes a function with its triggers; false when it was not registered. */
  unregister(functionId: string): boolean;
  /** True when some function triggers on events named `name`. */
  hasTriggers(name: string): boolean;
  /**
   * The functions `event` starts: the one it is routed to (`onlyFunction`), or every function
   * with a trigger on its name whose condition matches (each function once).
   */
  targets(event: FlowEvent, route: { readonly onlyFunction?: string }): FunctionDefinition[];
}

/** Creates an empty registry; `onRegistered` runs after each registration. */
export function createFunctionRegistry(
  onRegistered: (definition: FunctionDefinition) => void,
): FunctionRegistry {
  const registry = new Map<string, Registered>();
  const triggersByEvent = new Map<string, { functionId: string; condition?: string }[]>();

  const removeTriggers = (functionId: string) => {
    for (const [name, list] of triggersByEvent) {
      const kept = list.filter((trigger) => trigger.functionId !== functionId);
      if (kept.length === 0) triggersByEvent.delete(name);
      else if (kept.length !== list.length) triggersByEvent.set(name, kept);
    }
  };

  return {
    get: (functionId) => registry.get(functionId),
    has: (functionId) => registry.has(functionId),
    definition: (functionId) => registry.get(functionId)?.definition,
    all: () => registry.values(),
    register(definition, driver, mode = "replace") {
      if (mode === "unique" && registry.has(definition.id)) {
        throw invalidArgument(
          "functions",
          `function id ${JSON.stringify(definition.id)} is registered twice`,
        );
      }
      removeTriggers(definition.id);
      registry.set(definition.id, { definition, driver });
      for (const trigger of definition.triggers) {
        if (!("event" in trigger)) continue;
        const list = triggersByEvent.get(trigger.event) ?? [];
        list.push(
          trigger.if === undefined
            ? { functionId: definition.id }
            : { functionId: definition.id, condition: trigger.if },
        );
        triggersByEvent.set(trigger.event, list);
      }
      onRegistered(definition);
    },
    unregister(functionId) {
      if (!registry.delete(functionId)) return false;
      removeTriggers(functionId);
      return true;
    },
    hasTriggers: (name) => triggersByEvent.has(name),
    targets(event, route) {
      if (route.onlyFunction !== undefined) {
        const registered = registry.get(route.onlyFunction);
        return registered ? [registered.definition] : [];
      }
      const targets: FunctionDefinition[] = [];
      const seen = new Set<string>();
      for (const trigger of triggersByEvent.get(event.name) ?? []) {
        if (seen.has(trigger.functionId)) continue;
        if (trigger.condition !== undefined && !matches(trigger.condition, { event })) continue;
        const registered = registry.get(trigger.functionId);
        if (!registered) continue;
        seen.add(trigger.functionId);
        targets.push(registered.definition);
      }
      return targets;
    },
  };
}
