import { type ActorDefinition, defineActor } from "@troupe/actors";
import type { Store } from "@troupe/core";
import { z } from "zod";
import { createDecisionStore, type DecisionStore } from "./decision-store.js";

/** The actor type name through which participants ask for a transaction's outcome. */
export const DECISION_LOG_TYPE = "troupe.tx.decision";

/** Decision records and the actor type that serves them to participants. */
export interface DecisionLog {
  /** Register it with every actor system that runs or takes part in transactions. */
  readonly actor: ActorDefinition<"string", null, Record<string, unknown>>;
  /** The records themselves (the coordinator and the resolver use them directly). */
  readonly records: DecisionStore;
}

/**
 * The durable decision records of transactions in `store` (the actor system's Store), under
 * `prefix` (default `"tx/d/"`), and the `troupe.tx.decision` actor keyed by transaction id that
 * in-doubt participants ask (`resolve`). The actor keeps no state of its own.
 */
export function createDecisionLog(options: { store: Store; prefix?: string }): DecisionLog {
  const records = createDecisionStore(options.store, options.prefix);
  const actor = defineActor({
    name: DECISION_LOG_TYPE,
    key: "string",
    state: z.null(),
    initialState: () => null,
    actions: {
      /** The outcome; an undecided transaction is aborted here (presumed abort). */
      resolve: {
        idempotent: true,
        handler: (ctx): Promise<"committed" | "aborted"> => records.resolve(ctx.key, ctx.now()),
      },
    },
    idleTimeoutMs: 10_000,
  });
  return { actor: actor as unknown as DecisionLog["actor"], records };
}
