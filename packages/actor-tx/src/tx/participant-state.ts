/**
 * The participant side of two-phase commit as pure transitions on a transactional actor's stored
 * state `{ value, lock }`. The lock is the prepared transaction: the state it will commit, the
 * results of the steps already run, and the coordinator's deadline. It is part of the actor's
 * state, so it is written with the same fenced write as every other state change.
 */

/** A prepared (in-doubt) transaction held on one actor. */
export interface PreparedLock<S> {
  readonly txId: string;
  /** When the coordinator gives up; after it, the participant asks the decision record. */
  readonly deadline: number;
  /** The state the actor will have if the transaction commits. */
  readonly next: S;
  /** Results of the steps already prepared, by step number (a retried step answers from here). */
  readonly results: readonly unknown[];
}

/**
 * What a transactional actor stores: its committed value and the prepared transaction, if any.
 * An unlocked actor stores no `lock` field (older records hold `lock: null`, read the same way):
 * a state without `null` in it is stored as its plain JSON text, the actors' fast path.
 */
export interface TxState<S> {
  readonly value: S;
  readonly lock?: PreparedLock<S> | null;
}

/** The state of an unlocked actor whose committed value is `value`. */
export function unlocked<S>(value: S): TxState<S> {
  return { value };
}

/** What a prepare request may do on this state. */
export type PrepareVerdict =
  | { readonly kind: "run"; readonly base: "value" | "next" }
  | { readonly kind: "replay"; readonly result: unknown }
  /**
   * Another transaction holds the actor. Wait-die: an older requester (smaller id) may wait and
   * retry; a younger one must abort (`die`), so transactions never wait for each other in a cycle.
   */
  | { readonly kind: "busy"; readonly holder: string; readonly die: boolean }
  | { readonly kind: "out-of-order"; readonly expected: number };

/**
 * Decides what step `step` (0-based) of transaction `txId` may do: run on the committed value
 * (first step), run on the prepared state (later steps of the same transaction), answer a retry
 * from the stored result, or wait because another transaction holds the actor.
 */
export function judgePrepare<S>(state: TxState<S>, txId: string, step: number): PrepareVerdict {
  const lock = state.lock;
  if (!lock) {
    return step === 0 ? { kind: "run", base: "value" } : { kind: "out-of-order", expected: 0 };
  }
  if (lock.txId !== txId) return { kind: "busy", holder: lock.txId, die: txId > lock.txId };
  if (step < lock.results.length) return { kind: "replay", result: lock.results[step] };
  if (step > lock.results.length) return { kind: "out-of-order", expected: lock.results.length };
  return { kind: "run", base: "next" };
}

/** The state after a step ran: the prepared state and its result are recorded in the lock. */
export function recordPrepared<S>(
  state: TxState<S>,
  txId: string,
  deadline: number,
  next: S,
  result: unknown,
): TxState<S> {
  const results = state.lock?.txId === txId ? [...state.lock.results, result] : [result];
  return { value: state.value, lock: { txId, deadline, next, results } };
}

/** Commits `txId`: the prepared state becomes the value. Anything else (a repeat) changes nothing. */
export function commitPrepared<S>(state: TxState<S>, txId: string): TxState<S> {
  if (!state.lock || state.lock.txId !== txId) return state;
  return unlocked(state.lock.next);
}

/** Aborts `txId`: the prepared state is dropped. A repeat or another transaction's id changes nothing. */
export function abortPrepared<S>(state: TxState<S>, txId: string): TxState<S> {
  if (!state.lock || state.lock.txId !== txId) return state;
  return unlocked(state.value);
}

/** Applies a decision read from the decision record. */
export function applyDecision<S>(
  state: TxState<S>,
  txId: string,
  decision: "committed" | "aborted",
): TxState<S> {
  return decision === "committed" ? commitPrepared(state, txId) : abortPrepared(state, txId);
}
