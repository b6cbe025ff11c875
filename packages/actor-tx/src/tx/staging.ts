import type { StagedWrite } from "@troupe/actors";
import type { Store } from "@troupe/core";
import type { ParticipantRef } from "./decision-state.js";
import type { PreparedLock } from "./participant-state.js";

/**
 * One-phase commit, in process: a transaction opens a staging entry here; a participant whose
 * activation lives in the same process, with its state in the Store that holds the decision
 * records, keeps its prepared step in memory (an in-memory lock on its activation, no Store write)
 * and stages its state write in the entry. When every participant staged, the coordinator commits
 * all their states in one guarded Store commit and nobody writes a decision record; otherwise the
 * staged states travel in the commit that writes the decision record (two-phase commit for the
 * others only).
 */

/** A participant's in-memory prepared step (its activation's in-memory lock). */
export interface StagedParticipant {
  /** The participant, as the coordinator's references name it. */
  readonly ref: ParticipantRef;
  /** The transaction it belongs to. */
  readonly tx: StagingTx;
  /** The prepared state and the results of its steps, as a persisted lock would hold them. */
  lock: PreparedLock<unknown>;
  /** The fenced write of `{ value: lock.next }`, for the one-phase commit. */
  write: StagedWrite;
  /** Set when the participant gave up at its deadline (the coordinator must not commit then). */
  dropped: boolean;
  /**
   * Staged for a coordinator in another process (its Store reaches the same data): the write
   * travels back in the prepare's answer and commits with the decision record; this participant
   * hears the outcome in phase 2, or asks the record at its deadline.
   */
  readonly remote: boolean;
  /** Removes the in-memory lock from the activation (no-op once removed). */
  release(): void;
}

/** The staging entry of one transaction. */
export interface StagingTx {
  readonly txId: string;
  /** Only writes to this Store (the decision records' Store) can be staged. */
  readonly store: Store;
  /**
   * "open" while the body runs; "committing" once the one-phase commit was sent (no participant
   * may give up then); "closed" when the transaction ended.
   */
  phase: "open" | "committing" | "closed";
  /** Staged participants by `<type>/<key>` of their address. */
  readonly participants: Map<string, StagedParticipant>;
}

// Transaction ids (ULIDs, a retry's with a suffix) are unique across processes and systems, so one
// map serves the process.
const open = new Map<string, StagingTx>();

/** Opens the staging entry of a transaction coordinated in this process. */
export function openStaging(txId: string, store: Store): StagingTx {
  const tx: StagingTx = { txId, store, phase: "open", participants: new Map() };
  open.set(txId, tx);
  return tx;
}

/** The open staging entry of `txId`, when it is coordinated in this process. */
export function stagingFor(txId: string): StagingTx | undefined {
  const tx = open.get(txId);
  return tx?.phase === "open" ? tx : undefined;
}

/** Ends the entry: later steps of the transaction (never awaited by its body) prepare durably. */
export function closeStaging(tx: StagingTx): void {
  tx.phase = "closed";
  open.delete(tx.txId);
}
