import {
  type Clock,
  type Logger,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import { txError } from "../errors.js";
import {
  advanceCoordinator,
  beginCoordinator,
  type CoordinatorEffect,
  type CoordinatorState,
  chooseCommit,
} from "./coordinator-state.js";
import { DECISION_LOG_TYPE } from "./decision-log.js";
import type { ParticipantRef } from "./decision-state.js";
import type { DecisionStore } from "./decision-store.js";
import { closeStaging, openStaging, type StagedParticipant, type StagingTx } from "./staging.js";
import type { PrepareAnswer } from "./tx-actor.js";

/** A participant as `tx.call` accepts it: any actor reference (typed or untyped) or its JSON. */
export interface ParticipantLike {
  readonly type: string;
  readonly key: string | number | null;
}

/** What the body of a transaction works with. */
export interface Transaction {
  /** The transaction id (also the decision record's key). */
  readonly id: string;
  /** When the transaction aborts if it has not committed (ms since the epoch). */
  readonly deadline: number;
  /**
   * Runs a transactional action on `participant` as a step of this transaction and returns its
   * result. The change is prepared (the actor is locked for this transaction) and becomes
   * visible when the transaction commits. Await every call before the body returns (calls still
   * running then are settled before the transaction decides or aborts; a failed one aborts it).
   */
  call(participant: ParticipantLike, action: string, ...args: unknown[]): Promise<unknown>;
}

/**
 * Test seams that stop the coordinator at a phase boundary as if its process died there:
 * when a hook throws, the coordinator sends nothing more and the run rejects with that error.
 */
export interface TransactionFaults {
  /** After every participant prepared, before the decision is logged. */
  afterPrepare?(txId: string): void;
  /** After the commit decision is logged, before any participant is told. */
  afterDecision?(txId: string): void;
}

/** What the driver needs: remote calls, time, ids and the counters it reports to. */
export interface TransactionDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nextId: () => string;
  readonly random: () => number;
  /**
   * How long a step held by an older transaction keeps asking before this (younger) one dies
   * with `TX_CONFLICT`, in ms. 0: classic wait-die, it dies at once.
   */
  readonly conflictWaitMs: number;
  /** Whether the system knows the actor type, and whether it takes part in transactions. */
  typeKind(type: string): "unknown" | "plain" | "transactional";
  call(ref: ParticipantRef, action: string, args: readonly unknown[]): Promise<unknown>;
  /** The decision records. */
  readonly records: DecisionStore;
  /**
   * The id of the records' Store data once known (see `store-identity.ts`): sent with prepares,
   * so participants in other processes on the same data stage their writes for the decision's
   * commit. `wanted` says a transaction had such a participant (the id is then looked up).
   */
  home(wanted: boolean): string | undefined;
  readonly faults: TransactionFaults | undefined;
  readonly counters: {
    started(): void;
    committed(): void;
    aborted(): void;
    busyRetry(): void;
  };
}

function isParticipant(value: unknown): value is ParticipantLike {
  if (typeof value !== "object" && typeof value !== "function") return false;
  if (value === null) return false;
  const { type, key } = value as { type?: unknown; key?: unknown };
  return (
    typeof type === "string" &&
    (typeof key === "string" || typeof key === "number" || key === null || key === undefined)
  );
}

/**
 * Runs `body` as one transaction: every step it calls is prepared on its participant; when the
 * body returns, the commit decision is logged in the decision record and phase 2 is delivered.
 * Any failure (the body throws, a step fails, the deadline passes, the decision was already
 * aborted by an in-doubt participant) aborts every participant and rejects.
 */
export async function runTransaction<R>(
  deps: TransactionDeps,
  body: (tx: Transaction) => Promise<R>,
  timeoutMs: number,
  txId: string = deps.nextId(),
): Promise<R> {
  const staging = openStaging(txId, deps.records.store);
  try {
    return await coordinate(deps, body, timeoutMs, txId, staging);
  } finally {
    closeStaging(staging);
  }
}

async function coordinate<R>(
  deps: TransactionDeps,
  body: (tx: Transaction) => Promise<R>,
  timeoutMs: number,
  txId: string,
  staging: StagingTx,
): Promise<R> {
  const { clock } = deps;
  const deadline = clock.now() + timeoutMs;
  let state: CoordinatorState = beginCoordinator(txId, deadline);
  let stepFailure: unknown;
  // Prepares still on their way: a body that stops at the first failed step (`Promise.all`)
  // leaves the others running, and an abort sent before one lands would leave it locked.
  const inFlight = new Set<Promise<unknown>>();
  let giveUp = false; // set once the transaction aborts: waiting prepares stop retrying
  // Participants in other processes that staged their write for the decision's commit (made on
  // the first: a transaction of local participants only allocates nothing for them).
  let remoteStaged: Map<string, readonly StoreOp[]> | undefined;
  // Participants a prepare may have locked: every one but those that only ever refused (held by
  // another transaction), which an abort need not reach.
  const mayHold = new Set<string>();
  const home = deps.home(false);
  deps.counters.started();

  const prepare = async (ref: ParticipantRef, step: number, action: string, args: unknown[]) => {
    let backoffMs = 1;
    let conflictSince: number | undefined; // first refusal by an older holder
    const request = [txId, step, action, args, deadline, ...(home === undefined ? [] : [home])];
    for (;;) {
      try {
        const answer = await deps.call(ref, "txPrepare", request);
        mayHold.add(refId(ref));
        if (home === undefined) return answer;
        const { r, s } = answer as PrepareAnswer;
        if (s !== undefined) {
          remoteStaged ??= new Map();
          remoteStaged.set(refId(ref), s);
        }
        return r;
      } catch (error) {
        if (!isRefusal(error)) mayHold.add(refId(ref)); // it may have prepared before failing
        if (giveUp) throw error;
        const now = clock.now();
        if (TroupeError.isInstance(error, "TX_CONFLICT")) {
          // Held by an older transaction: ask again for up to conflictWaitMs before dying. The
          // wait is bounded, so waits still never hold in a cycle for long: every cycle has a
          // younger waiting for an older, and that wait ends within conflictWaitMs (then the
          // younger dies, as in wait-die). Waiting first spares the dying transaction's whole
          // round (its other participants' aborts, its backoff, its prepares again) when the
          // holder finishes soon.
          conflictSince ??= now;
          if (now - conflictSince >= deps.conflictWaitMs) throw error;
        } else if (!TroupeError.isInstance(error, "TX_BUSY")) throw error;
        deps.counters.busyRetry();
        const wait = backoffMs * (0.5 + deps.random());
        if (now + wait >= deadline) {
          // A younger one dies (and may run again); an older one timed out waiting.
          if (TroupeError.isInstance(error, "TX_CONFLICT")) throw error;
          throw txError(
            "TX_TIMEOUT",
            `transaction ${txId}: ${ref.type}/${ref.key} stayed locked by another transaction until the deadline (${timeoutMs} ms)`,
            { txId, participant: ref },
            error,
          );
        }
        await clock.sleep(wait);
        backoffMs = Math.min(backoffMs * 2, 50);
      }
    }
  };

  const tx: Transaction = {
    id: txId,
    deadline,
    async call(participant, action, ...args) {
      if (!isParticipant(participant)) {
        throw txError(
          "TX_UNKNOWN_PARTICIPANT",
          `tx.call: expected an actor reference ({ type, key }), got ${String(participant)}`,
        );
      }
      if (typeof action !== "string") {
        throw txError(
          "TX_NOT_TRANSACTIONAL",
          `tx.call: action must be a string, got ${typeof action}`,
        );
      }
      const ref: ParticipantRef = { type: participant.type, key: participant.key ?? null };
      const kind = ref.type === DECISION_LOG_TYPE ? "plain" : deps.typeKind(ref.type);
      if (kind !== "transactional") {
        const error =
          kind === "unknown"
            ? txError(
                "TX_UNKNOWN_PARTICIPANT",
                `transaction ${txId}: no actor type ${JSON.stringify(ref.type)} is registered with this system`,
                { txId, participant: ref },
              )
            : txError(
                "TX_NOT_TRANSACTIONAL",
                `transaction ${txId}: ${ref.type} is not a transactional actor (define it with defineTxActor)`,
                { txId, participant: ref },
              );
        stepFailure ??= error;
        throw error;
      }
      if (state.phase !== "active") {
        throw txError("TX_ABORTED", `transaction ${txId} is no longer open (${state.phase})`, {
          txId,
        });
      }
      const next = advanceCoordinator(state, { type: "step", ref });
      state = next.state;
      const effect = next.effects[0] as Extract<CoordinatorEffect, { type: "prepare" }>;
      const prepared = prepare(ref, effect.step, action, args);
      inFlight.add(prepared);
      try {
        return await prepared;
      } catch (error) {
        stepFailure ??= error;
        throw error;
      } finally {
        inFlight.delete(prepared);
      }
    },
  };

  let result: R;
  try {
    result = await body(tx);
    if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    if (stepFailure !== undefined) throw stepFailure;
  } catch (error) {
    giveUp = true;
    if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await abort(deps, state, txId, staging, mayHold);
    throw error;
  }

  const done = advanceCoordinator(state, { type: "body-done", now: clock.now() });
  state = done.state;
  const first = done.effects[0];
  if (first?.type === "finished") {
    deps.counters.committed();
    return result;
  }
  if (first?.type === "abort") {
    await abort(deps, state, txId, staging, mayHold);
    throw txError("TX_TIMEOUT", `transaction ${txId} passed its deadline (${timeoutMs} ms)`, {
      txId,
    });
  }
  if (chooseCommit(state, staging.participants.size) === "one-phase") {
    await commitOnePhase(deps, state, staging);
    return result;
  }
  // Participants staged in memory (in this process) commit with the decision record, in the
  // same Store commit; the record names only the others, which hear the outcome in phase 2.
  const staged = await stagedForCommit(deps, state, staging);
  const stagedIds = new Set(staged.map((p) => refId(p.ref)));
  // The others hear the outcome in phase 2 (the remotely staged ones too: they adopt their
  // write then), so the record names them all until each has heard it.
  const participants = state.participants
    .map((p) => p.ref)
    .filter((ref) => !stagedIds.has(refId(ref)));
  if ((remoteStaged?.size ?? 0) < participants.length) deps.home(true); // some prepared durably
  if (staged.length > 0) staging.phase = "committing";
  let granted: boolean;
  try {
    granted = await deps.records.decide(txId, participants, clock.now(), [
      ...staged.flatMap((p) => p.write.ops),
      ...[...(remoteStaged?.values() ?? [])].flat(),
    ]);
  } catch (error) {
    discardStaged(staging, error);
    // The decision may or may not be logged: ask the record, which settles it either way.
    try {
      granted = (await deps.records.resolve(txId, clock.now())) === "committed";
    } catch {
      throw txError(
        "TX_OUTCOME_UNKNOWN",
        `transaction ${txId}: the decision record could not be written or read; its participants resolve it after the deadline`,
        { txId },
        error,
      );
    }
  }
  const decided = advanceCoordinator(state, { type: "decided", granted });
  state = decided.state;
  if (!granted) {
    await abort(deps, state, txId, staging);
    throw txError(
      "TX_ABORTED",
      `transaction ${txId} was aborted before it could commit (a participant gave up waiting)`,
      { txId },
    );
  }
  settleCommitted(deps, txId, staging);
  const delivered = await Promise.allSettled(
    participants.map((ref) => deps.call(ref, "txCommit", [txId])),
  );
  // Committed either way: a participant that missed phase 2 resolves from the record.
  deps.counters.committed();
  if (delivered.every((outcome) => outcome.status === "fulfilled")) {
    // Not awaited: a record left behind is finished by the resolver later.
    deps.records.finish(txId).catch((error: unknown) => {
      deps.logger.warn("transaction committed; its decision record stays for the resolver", {
        txId,
        error,
      });
    });
  } else {
    deps.logger.warn("transaction committed; some participants will resolve later", { txId });
  }
  return result;
}

/**
 * The participants staged in memory, once every one of them still holds its step: one that gave
 * up at the deadline aborts the transaction (TX_TIMEOUT). Then the prepared fault seam runs.
 */
async function stagedForCommit(
  deps: TransactionDeps,
  state: CoordinatorState,
  staging: StagingTx,
): Promise<StagedParticipant[]> {
  const { txId } = state;
  const staged = [...staging.participants.values()];
  if (staged.some((p) => p.dropped)) {
    await abort(deps, state, txId, staging);
    throw txError("TX_TIMEOUT", `transaction ${txId}: a participant gave up at the deadline`, {
      txId,
    });
  }
  deps.faults?.afterPrepare?.(txId);
  return staged;
}

/**
 * Every participant staged its step in memory (same process, same Store as the decision
 * records): prepare, decide and apply are one guarded Store commit of all their states, fenced on
 * each activation's claim. No decision record: the commit itself is the decision.
 */
async function commitOnePhase(
  deps: TransactionDeps,
  state: CoordinatorState,
  staging: StagingTx,
): Promise<void> {
  const staged = await stagedForCommit(deps, state, staging);
  const { txId } = state;
  staging.phase = "committing";
  try {
    await staging.store.commit(staged.flatMap((p) => p.write.ops));
  } catch (error) {
    if (StoreConflictError.isInstance(error)) {
      // An activation lost its claim since it staged: nothing was written.
      await abort(deps, state, txId, staging);
      throw txError(
        "TX_ABORTED",
        `transaction ${txId}: a participant moved or was reactivated before the commit; nothing applied`,
        { txId },
        error,
      );
    }
    discardStaged(staging, error);
    deps.counters.aborted();
    throw txError(
      "TX_OUTCOME_UNKNOWN",
      `transaction ${txId}: its one-phase commit failed with an unknown outcome (all or nothing applied)`,
      { txId },
      error,
    );
  }
  settleCommitted(deps, txId, staging);
  deps.counters.committed();
}

function refId(ref: ParticipantRef): string {
  return `${ref.type}/${String(ref.key)}`;
}

/** The commit carrying the staged states succeeded: they become the participants' states. */
/**
 * After the commit that decided `txId`: the local participants' staged states become theirs. The
 * `afterDecision` fault seam runs first; when it throws (the process "died" after the commit),
 * their activations' memory dies with it and the error goes on.
 */
function settleCommitted(deps: TransactionDeps, txId: string, staging: StagingTx): void {
  try {
    deps.faults?.afterDecision?.(txId);
  } catch (error) {
    discardStaged(staging, error);
    throw error;
  }
  adoptStaged(staging);
}

function adoptStaged(staging: StagingTx): void {
  for (const p of staging.participants.values()) {
    p.write.adopt();
    p.release();
  }
  staging.participants.clear();
}

/**
 * The commit carrying the staged states may or may not have landed: the activations' memory
 * cannot be trusted either way, so they end and the next activation of each loads the Store's.
 */
function discardStaged(staging: StagingTx, reason: unknown): void {
  for (const p of staging.participants.values()) {
    p.release();
    p.write.discard(reason);
  }
  staging.participants.clear();
}

/** A participant's answer that it did not prepare: another transaction holds it. */
function isRefusal(error: unknown): boolean {
  return TroupeError.isInstance(error, "TX_BUSY") || TroupeError.isInstance(error, "TX_CONFLICT");
}

/**
 * Aborts: local staged participants are released here, the others are told (those in `mayHold`
 * when given: a participant that only refused holds nothing of this transaction).
 */
async function abort(
  deps: TransactionDeps,
  state: CoordinatorState,
  txId: string,
  staging: StagingTx,
  mayHold?: ReadonlySet<string>,
): Promise<void> {
  deps.counters.aborted();
  for (const p of staging.participants.values()) p.release();
  staging.participants.clear();
  const refs = state.participants
    .map((p) => p.ref)
    .filter((ref) => mayHold === undefined || mayHold.has(refId(ref)));
  // Best effort: a participant that misses this aborts itself once the deadline passes.
  await Promise.allSettled(refs.map((ref) => deps.call(ref, "txAbort", [txId])));
}
