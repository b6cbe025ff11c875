import { defineActor } from "@troupe/actors";
import { z } from "zod";
import {
  type DecisionRecord,
  decideCommit,
  markFinished,
  type ParticipantRef,
  resolveOutcome,
  UNDECIDED,
} from "./decision-state.js";

/** A participant on the wire and in the record: its type and its key as the caller gave it. */
export const participantRefSchema = z.object({
  type: z.string().min(1),
  key: z.union([z.string(), z.number(), z.null()]),
});

const recordSchema: z.ZodType<DecisionRecord> = z.object({
  decision: z.enum(["committed", "aborted"]).nullable(),
  participants: z.array(participantRefSchema),
  decidedAt: z.number(),
  finished: z.boolean(),
});

/** The actor type name of decision records (their state lives under `<statePrefix><name>/<txId>`). */
export const DECISION_LOG_TYPE = "troupe.tx.decision";

/**
 * The durable coordinator record: one actor per transaction, keyed by its id. Register it with
 * every actor system that runs or takes part in transactions.
 */
export const DecisionLog = defineActor({
  name: DECISION_LOG_TYPE,
  key: "string",
  state: recordSchema,
  initialState: (): DecisionRecord => UNDECIDED,
  actions: {
    /** The coordinator's commit request: true when granted (false: already aborted). */
    decide: {
      args: z.tuple([z.array(participantRefSchema)]),
      handler(ctx, participants: readonly ParticipantRef[]): boolean {
        const next = decideCommit(ctx.state, participants, ctx.now());
        ctx.state = next.record;
        return next.granted;
      },
    },
    /** The outcome; an undecided transaction is aborted here (presumed abort). */
    resolve: {
      idempotent: true,
      handler(ctx): "committed" | "aborted" {
        const next = resolveOutcome(ctx.state, ctx.now());
        ctx.state = next.record;
        return next.decision;
      },
    },
    /** Phase 2 reached every participant. */
    finish: {
      idempotent: true,
      handler(ctx): void {
        ctx.state = markFinished(ctx.state);
      },
    },
    /** The record as stored. */
    read: { readOnly: true, handler: (ctx): DecisionRecord => ctx.state },
  },
  // Records are touched a few times within one transaction's lifetime; do not keep them around.
  idleTimeoutMs: 2_000,
});

/** Decodes a stored record (the resolver reads them straight from the Store). */
export function parseDecisionRecord(value: unknown): DecisionRecord | undefined {
  const parsed = recordSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
