import type { ParticipantRef } from "./decision-state.js";

/**
 * The coordinator side of two-phase commit as pure transitions. The driver (`transaction.ts`)
 * feeds it events and carries out the effects it returns; nothing here touches a port.
 */

/** Where a transaction is. */
export type CoordinatorPhase = "active" | "deciding" | "committing" | "aborting" | "done";

/** A participant and how many steps it prepared. */
export interface Enlisted {
  readonly ref: ParticipantRef;
  readonly steps: number;
}

/** The coordinator's state. */
export interface CoordinatorState {
  readonly txId: string;
  readonly deadline: number;
  readonly phase: CoordinatorPhase;
  readonly participants: readonly Enlisted[];
  /** How it ended (set in "done"). */
  readonly outcome: "committed" | "aborted" | null;
}

/** What happened. */
export type CoordinatorEvent =
  /** The body calls a participant; the step it prepares is the participant's next step number. */
  | { readonly type: "step"; readonly ref: ParticipantRef }
  /** The body returned: time to decide. */
  | { readonly type: "body-done"; readonly now: number }
  /** The body threw, a prepare failed, or the deadline passed. */
  | { readonly type: "failed" }
  /** The decision record answered. */
  | { readonly type: "decided"; readonly granted: boolean }
  /** Phase 2 was delivered. */
  | { readonly type: "delivered" };

/** What the driver must do next. */
export type CoordinatorEffect =
  | { readonly type: "prepare"; readonly ref: ParticipantRef; readonly step: number }
  | { readonly type: "log-commit"; readonly participants: readonly ParticipantRef[] }
  | { readonly type: "commit"; readonly participants: readonly ParticipantRef[] }
  | { readonly type: "abort"; readonly participants: readonly ParticipantRef[] }
  | { readonly type: "finished"; readonly outcome: "committed" | "aborted" };

/** A transaction that has not called anyone yet. */
export function beginCoordinator(txId: string, deadline: number): CoordinatorState {
  return { txId, deadline, phase: "active", participants: [], outcome: null };
}

function sameRef(a: ParticipantRef, b: ParticipantRef): boolean {
  return a.type === b.type && a.key === b.key;
}

/** Thrown for an event the phase does not allow: a bug in the driver, never user input. */
export class CoordinatorPhaseError extends Error {}

/** The next state and the effects to carry out. */
export function advanceCoordinator(
  state: CoordinatorState,
  event: CoordinatorEvent,
): { readonly state: CoordinatorState; readonly effects: readonly CoordinatorEffect[] } {
  switch (event.type) {
    case "step": {
      if (state.phase !== "active") throw new CoordinatorPhaseError(`step in ${state.phase}`);
      const index = state.participants.findIndex((p) => sameRef(p.ref, event.ref));
      const step = index === -1 ? 0 : (state.participants[index]?.steps ?? 0);
      const participants =
        index === -1
          ? [...state.participants, { ref: event.ref, steps: 1 }]
          : state.participants.map((p, i) =>
              i === index ? { ref: p.ref, steps: p.steps + 1 } : p,
            );
      return {
        state: { ...state, participants },
        effects: [{ type: "prepare", ref: event.ref, step }],
      };
    }
    case "body-done": {
      if (state.phase !== "active") throw new CoordinatorPhaseError(`body-done in ${state.phase}`);
      if (event.now > state.deadline) return abortAll(state);
      if (state.participants.length === 0) {
        return {
          state: { ...state, phase: "done", outcome: "committed" },
          effects: [{ type: "finished", outcome: "committed" }],
        };
      }
      return {
        state: { ...state, phase: "deciding" },
        effects: [{ type: "log-commit", participants: refsOf(state) }],
      };
    }
    case "failed":
      if (state.phase === "active" || state.phase === "deciding") return abortAll(state);
      throw new CoordinatorPhaseError(`failed in ${state.phase}`);
    case "decided":
      if (state.phase !== "deciding") throw new CoordinatorPhaseError(`decided in ${state.phase}`);
      if (!event.granted) return abortAll(state);
      return {
        state: { ...state, phase: "committing" },
        effects: [{ type: "commit", participants: refsOf(state) }],
      };
    case "delivered": {
      if (state.phase !== "committing" && state.phase !== "aborting") {
        throw new CoordinatorPhaseError(`delivered in ${state.phase}`);
      }
      const outcome = state.phase === "committing" ? "committed" : "aborted";
      return {
        state: { ...state, phase: "done", outcome },
        effects: [{ type: "finished", outcome }],
      };
    }
  }
}

// A module function, not a closure per call: transitions run several times per transaction.
function refsOf(state: CoordinatorState): ParticipantRef[] {
  return state.participants.map((p) => p.ref);
}

function abortAll(state: CoordinatorState) {
  return {
    state: { ...state, phase: "aborting" as const },
    effects: [{ type: "abort" as const, participants: refsOf(state) }],
  };
}

/**
 * How a transaction whose body returned commits: in one phase when every participant staged its
 * steps in memory (`staged` of them: all in this process, on the decision records' Store), so one
 * guarded Store commit of their states is prepare, decision and phase 2 at once; otherwise by
 * two-phase commit with a decision record.
 */
export function chooseCommit(state: CoordinatorState, staged: number): "one-phase" | "two-phase" {
  return staged > 0 && staged === state.participants.length ? "one-phase" : "two-phase";
}
