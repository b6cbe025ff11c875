/**
 * The decision record of one transaction as pure transitions. It is the state of the
 * `troupe.tx.log` actor keyed by the transaction id, so every change is one turn (no two at a
 * time) and one fenced write: the coordinator's "commit" and a participant's "abort after the
 * deadline" can never both win.
 */

/** A participant, as the decision record names it. */
export interface ParticipantRef {
  readonly type: string;
  /** The key as the caller gave it (string, integer, or null for unkeyed actors). */
  readonly key: string | number | null;
}

/** The stored decision record. */
export interface DecisionRecord {
  /** null only before the first transition (the actor's initial state). */
  readonly decision: "committed" | "aborted" | null;
  readonly participants: readonly ParticipantRef[];
  /** When the decision was taken (on the deciding node's clock). */
  readonly decidedAt: number;
  /** Every participant confirmed phase 2; the background resolver skips it. */
  readonly finished: boolean;
}

/** The record of a transaction nobody decided yet. */
export const UNDECIDED: DecisionRecord = {
  decision: null,
  participants: [],
  decidedAt: 0,
  finished: false,
};

/** The coordinator asks to commit: granted unless the transaction was already aborted. */
export function decideCommit(
  record: DecisionRecord,
  participants: readonly ParticipantRef[],
  now: number,
): { readonly record: DecisionRecord; readonly granted: boolean } {
  if (record.decision === "aborted") return { record, granted: false };
  if (record.decision === "committed") return { record, granted: true };
  return {
    record: { decision: "committed", participants, decidedAt: now, finished: false },
    granted: true,
  };
}

/**
 * An in-doubt participant (or the coordinator giving up) asks for the outcome: an undecided
 * transaction is aborted there and then (presumed abort), so a late commit request is refused.
 */
export function resolveOutcome(
  record: DecisionRecord,
  now: number,
): { readonly record: DecisionRecord; readonly decision: "committed" | "aborted" } {
  if (record.decision !== null) return { record, decision: record.decision };
  return {
    record: { decision: "aborted", participants: [], decidedAt: now, finished: true },
    decision: "aborted",
  };
}

/** Phase 2 reached every participant. */
export function markFinished(record: DecisionRecord): DecisionRecord {
  return record.finished ? record : { ...record, finished: true };
}

/** Whether the background resolver should push phase 2 again for this record. */
export function isStale(record: DecisionRecord, now: number, graceMs: number): boolean {
  return record.decision === "committed" && !record.finished && record.decidedAt + graceMs <= now;
}
