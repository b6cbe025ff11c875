import { type AnyActorDefinition, isActorDefinition } from "@troupe/actors";
import { invalidArgument } from "@troupe/core";
import { validateNamespace } from "./stream-id.js";

/**
 * An implicit subscription: every stream of `namespace` is consumed by the actor of type
 * `definition` whose key is the stream's key, through its action `action` (which receives the
 * {@link StreamEvent}). The actor is activated by the first event, like any call.
 */
export interface ImplicitSubscription {
  /** The namespace consumed. */
  readonly namespace: string;
  /** The consumer actor type (keyed by string or integer). */
  readonly definition: AnyActorDefinition;
  /** The action each event is delivered to. */
  readonly action: string;
}

// One registry per process, shared by every copy of this package (a config file loaded through
// another module loader defines actors with its own copy; the runtime's copy must see them).
const REGISTRY = Symbol.for("troupe.actorStreams.implicitSubscriptions");
const shared = globalThis as { [REGISTRY]?: WeakMap<object, ImplicitSubscription[]> };
shared[REGISTRY] ??= new WeakMap();
const registry: WeakMap<object, ImplicitSubscription[]> = shared[REGISTRY];

/**
 * Declares that actor type `definition` consumes namespace `namespace` through `action`, and
 * returns the declaration. Bad input throws INVALID_ARGUMENT naming the field. The runtime finds
 * the declarations of the types it hosts by itself; `createStreams` takes them as `implicit`.
 */
export function implicitSubscription(
  definition: AnyActorDefinition,
  options: { readonly namespace: string; readonly action: string },
): ImplicitSubscription {
  if (!isActorDefinition(definition)) {
    throw invalidArgument("definition", "expected an actor definition (defineActor)");
  }
  if (definition.key === "none") {
    throw invalidArgument(
      "definition",
      `${definition.name} has no key; a stream consumer is keyed by the stream's key`,
    );
  }
  const namespace = validateNamespace(options?.namespace, "namespace");
  const action = options.action;
  const actions = Object.keys((definition.actions ?? {}) as object);
  if (typeof action !== "string" || !actions.includes(action)) {
    throw invalidArgument(
      "action",
      `expected an action of ${definition.name} (${actions.join(", ")}), got ${JSON.stringify(action)}`,
    );
  }
  const subscription: ImplicitSubscription = Object.freeze({ namespace, definition, action });
  const list = registry.get(definition) ?? [];
  if (!list.some((each) => each.namespace === namespace)) list.push(subscription);
  registry.set(definition, list);
  return subscription;
}

/** The implicit subscriptions declared for any of `definitions`. */
export function implicitSubscriptionsOf(
  definitions: readonly AnyActorDefinition[],
): ImplicitSubscription[] {
  return definitions.flatMap((definition) => registry.get(definition) ?? []);
}
