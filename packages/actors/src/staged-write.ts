import { invalidArgument, type Store, type StoreOp, zodIssueError } from "@troupe/core";
import type { Activation } from "./activation.js";
import { encodeState, fingerprint } from "./state-encoding.js";
import { TurnContext } from "./turn-context.js";

/**
 * A state write of one activation, prepared to travel in a Store commit made by someone else,
 * so that several actors' states can change in one atomic commit.
 */
export interface StagedWrite {
  /** The Store the ops belong in (only ops of the same Store can share a commit). */
  readonly store: Store;
  /** The activation's fence guard, then the set of its state. */
  readonly ops: readonly StoreOp[];
  /**
   * Call after the commit carrying `ops` succeeded: the staged state becomes the activation's
   * state, already saved (it writes nothing). A no-op once the activation has ended.
   */
  adopt(): void;
  /**
   * Call when the commit's outcome is unknown (it failed with anything but a conflict): ends the
   * activation without saving, so the next one loads whatever the Store holds.
   */
  discard(reason: unknown): void;
}

function turnOf(ctx: unknown, what: string): TurnContext {
  if (!(ctx instanceof TurnContext)) {
    throw invalidArgument(`${what}.ctx`, "expected the context a handler of this system received");
  }
  return ctx;
}

/**
 * Stages a write of `state` for the actor whose handler got `ctx`: waits until the activation's
 * own pending writes are durable (so none can land after the staged one), checks `state` against
 * the definition's schema (INVALID_ARGUMENT naming the field), and returns the fenced ops and
 * `adopt`. The commit carrying the ops fails if the activation lost its claim meanwhile. The
 * caller keeps the actor from writing its state between staging and `adopt` (a write in between
 * would be overwritten in memory by `adopt`).
 */
export async function stageWrite(ctx: unknown, state: unknown): Promise<StagedWrite> {
  const activation = turnOf(ctx, "stageWrite").activation;
  // Most steps find nothing in flight: they go on without a waiter and a turn of the microtasks.
  if (!activation.writesAreSettled()) await activation.writesSettled();
  const definition = activation.definition;
  const checked = definition.state.safeParse(state);
  if (!checked.success) throw zodIssueError(checked.error, `${definition.name} staged state`);
  const print = fingerprint(state);
  const bytes = encodeState(state, print);
  return new ActivationWrite(activation, state, bytes, print);
}

/** A staged write as a class: transactions stage one per step, and closures would cost more. */
class ActivationWrite implements StagedWrite {
  readonly store: Store;
  readonly ops: readonly StoreOp[];

  constructor(
    private readonly activation: Activation,
    private readonly state: unknown,
    private readonly bytes: Uint8Array,
    private readonly print: string,
  ) {
    this.store = activation.deps.states.store;
    this.ops = activation.fencedWriteOps(bytes);
  }

  adopt(): void {
    this.activation.adoptSaved(this.state, this.bytes, this.print);
  }

  discard(reason: unknown): void {
    this.activation.drop(reason);
  }
}

/**
 * A map kept with the activation of the actor whose handler got `ctx`, in memory only: never
 * saved, empty in every new activation (after a restart, a move or an idle deactivation). For
 * state that must not outlive the activation, such as an in-memory lock.
 */
export function activationMemory(ctx: unknown): Map<string, unknown> {
  const activation = turnOf(ctx, "activationMemory").activation;
  if (activation.memory === undefined) activation.memory = new Map();
  return activation.memory;
}
