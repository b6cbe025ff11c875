// The rules of an activation, as pure functions: its lifecycle states and which turn may start
// beside which. The activation holds the state; these decide what it becomes.

/** Loading its state and running `onActivate`; calls wait in the mailbox. */
export const ACTIVATING = 0;
/** Serving calls. */
export const ACTIVE = 1;
/** Finishing turns, running `onDeactivate` and saving; new calls wait and go to the next activation. */
export const DEACTIVATING = 2;
/** Gone: deactivated, dropped after a failed write or lost claim, or failed to activate. */
export const DEAD = 3;

/** An activation's lifecycle state. */
export type Status = typeof ACTIVATING | typeof ACTIVE | typeof DEACTIVATING | typeof DEAD;

/** Activation status values. */
export const Status = { ACTIVATING, ACTIVE, DEACTIVATING, DEAD } as const;

/**
 * What happens to an activation: `ready` (state loaded, `onActivate` done), `failed` (the
 * activation could not start), `deactivate` (idle, requested or shutdown), `ended` (deactivation
 * finished), `dropped` (a write was fenced off, the claim was lost, or shutdown gave up on it).
 */
export type LifecycleEvent = "ready" | "failed" | "deactivate" | "ended" | "dropped";

/**
 * The status after `event`; the same status when the event does not apply (deactivating an
 * activation that is not active, ending one that was dropped meanwhile).
 */
export function nextStatus(status: Status, event: LifecycleEvent): Status {
  switch (event) {
    case "ready":
      return status === ACTIVATING ? ACTIVE : status;
    case "failed":
      return status === ACTIVATING ? DEAD : status;
    case "deactivate":
      return status === ACTIVE ? DEACTIVATING : status;
    case "ended":
      return status === DEACTIVATING ? DEAD : status;
    case "dropped":
      return DEAD;
  }
}

/** The name introspection reports for a status (a dead activation is no longer listed). */
export function statusName(status: Status): "activating" | "active" | "deactivating" {
  return status === ACTIVE ? "active" : status === ACTIVATING ? "activating" : "deactivating";
}

/** An exclusive write turn. */
export const WRITE = 0;
/** A read-only turn: shares the activation with other read-only turns. */
export const READ = 1;
/** An interleaving turn: runs beside anything. */
export const INTERLEAVE = 2;
/** A call-chain re-entry: runs inside the turn that is waiting on it. */
export const NESTED = 3;

/** How a turn holds the activation. */
export type TurnMode = typeof WRITE | typeof READ | typeof INTERLEAVE | typeof NESTED;

/** What decides an action's turn mode. */
export interface TurnFlags {
  readonly readOnly: boolean;
  readonly interleave: boolean;
}

/** The mode an action's turn runs in (re-entries are decided by the call chain, not here). */
export function turnMode(action: TurnFlags): TurnMode {
  return action.interleave ? INTERLEAVE : action.readOnly ? READ : WRITE;
}

/**
 * Whether a turn of `action` may start now, while a write turn holds the activation
 * (`exclusive`) or `readers` read-only turns run.
 */
export function admits(action: TurnFlags, exclusive: boolean, readers: number): boolean {
  return action.interleave || (action.readOnly ? !exclusive : !exclusive && readers === 0);
}

/**
 * Whether a turn that ends owns the state it leaves ("after-turn" mode): it is checked, written,
 * or rolled back. Nested and interleaving turns run inside or beside a write turn: that turn's
 * end takes their changes, and rolling back here would undo its half-done work.
 */
export function ownsState(mode: TurnMode, action: TurnFlags, exclusive: boolean): boolean {
  return mode === WRITE || (mode === INTERLEAVE && !action.readOnly && !exclusive);
}
