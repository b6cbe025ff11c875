import {
  invalidArgument,
  jsonCodec,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  utf8,
} from "@troupe/core";
import { z } from "zod";
import {
  type DecisionRecord,
  decideCommit,
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

/**
 * The durable decision records: one Store entry per transaction at `<prefix><txId>`, changed
 * only by compare-and-set (the first write expects the entry absent), so the coordinator's
 * "commit" and an in-doubt participant's "abort" can never both win. A record is deleted once
 * every participant heard the commit; an absent record means "never decided" (presumed abort).
 */
export interface DecisionStore {
  /** The Store key prefix of the records. */
  readonly prefix: string;
  /**
   * Asks to commit: true when granted, false when the transaction was already aborted. `ops`
   * (guarded writes in the same Store, such as participants' committed states) go in the same
   * commit as the decision: written if and only if it is granted.
   */
  decide(
    txId: string,
    participants: readonly ParticipantRef[],
    now: number,
    ops?: readonly StoreOp[],
  ): Promise<boolean>;
  /** The outcome; an undecided transaction is aborted there and then. */
  resolve(txId: string, now: number): Promise<"committed" | "aborted">;
  /** Every participant heard the commit: the record is no longer needed. */
  finish(txId: string): Promise<void>;
  /** Decodes a listed entry (undefined for anything else under the prefix). */
  parse(entry: StoreEntry): { txId: string; record: DecisionRecord } | undefined;
  /** The Store the records live in. */
  readonly store: Store;
}

/**
 * A record is plain JSON (strings, finite numbers, booleans, null), so it is written as the plain
 * JSON text; the JSON codec reads that text back unchanged and skips its per-key replacer here.
 */
function encodeRecord(record: DecisionRecord): Uint8Array {
  return utf8(JSON.stringify(record));
}

/** Most deletions one Store commit carries. */
const MAX_DELETES_PER_COMMIT = 256;

/**
 * Deletes finished records in batches: a deletion asked for while another batch is being
 * committed waits for it and goes with the next one, so under load the records of many
 * transactions leave in one commit instead of one commit each. Each caller learns the outcome
 * of the commit that carried its key.
 */
function createBatchedDelete(store: Store): { finish(key: string): Promise<void> } {
  let pending: { key: string; done: (error?: unknown) => void }[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    try {
      while (pending.length > 0) {
        const batch = pending.slice(0, MAX_DELETES_PER_COMMIT);
        pending = pending.slice(batch.length);
        try {
          await store.commit(batch.map((item) => ({ type: "delete" as const, key: item.key })));
          for (const item of batch) item.done();
        } catch (error) {
          for (const item of batch) item.done(error);
        }
      }
    } finally {
      flushing = false;
    }
  };
  return {
    finish(key) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ key, done: (error) => (error === undefined ? resolve() : reject(error)) });
        if (!flushing) void flush();
      });
    },
  };
}

/** Decision records in `store` under `prefix` (default `"tx/d/"`). */
export function createDecisionStore(store: Store, prefix = "tx/d/"): DecisionStore {
  if (typeof prefix !== "string" || prefix.length === 0) {
    throw invalidArgument("prefix", "expected a non-empty string");
  }
  const key = (txId: string) => `${prefix}${txId}`;
  const finisher = createBatchedDelete(store);
  const read = async (txId: string) => {
    const entry = await store.get(key(txId));
    if (entry === undefined) return { record: UNDECIDED, version: "absent" as const };
    return {
      record: recordSchema.parse(jsonCodec.decode(entry.value)),
      version: entry.version,
    };
  };
  // Read, apply a pure transition, compare-and-set; a lost race reads again.
  const transition = async <R>(
    txId: string,
    step: (record: DecisionRecord) => { record: DecisionRecord; answer: R },
    firstGuess: DecisionRecord | undefined,
  ): Promise<R> => {
    let current =
      firstGuess === undefined
        ? await read(txId)
        : { record: firstGuess, version: "absent" as number | "absent" };
    for (;;) {
      const { record, answer } = step(current.record);
      if (record === current.record) return answer;
      try {
        await store.commit([
          {
            type: "set",
            key: key(txId),
            value: encodeRecord(record),
            expect: current.version,
          },
        ]);
        return answer;
      } catch (error) {
        if (!StoreConflictError.isInstance(error)) throw error;
        current = await read(txId);
      }
    }
  };
  const resolve = (txId: string, now: number) =>
    transition(
      txId,
      (record) => {
        const next = resolveOutcome(record, now);
        return { record: next.record, answer: next.decision };
      },
      undefined,
    );
  return {
    prefix,
    store,
    decide: async (txId, participants, now, ops = []) => {
      if (ops.length > 0) {
        const { record } = decideCommit(UNDECIDED, participants, now);
        const decision: StoreOp = {
          type: "set",
          key: key(txId),
          value: encodeRecord(record),
          expect: "absent",
        };
        try {
          await store.commit([decision, ...ops]);
          return true;
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
          // Nothing was written: the record was aborted meanwhile, or a guard of `ops` failed.
          // Settle the record (an absent one becomes "aborted") so no later commit can win.
          return (await resolve(txId, now)) === "committed";
        }
      }
      // The common case: nobody touched the record yet, so skip the read.
      return transition(
        txId,
        (record) => {
          const next = decideCommit(record, participants, now);
          return { record: next.record, answer: next.granted };
        },
        UNDECIDED,
      );
    },
    resolve,
    finish: (txId) => finisher.finish(key(txId)),
    parse(entry) {
      if (!entry.key.startsWith(prefix)) return undefined;
      const parsed = recordSchema.safeParse(jsonCodec.decode(entry.value));
      return parsed.success
        ? { txId: entry.key.slice(prefix.length), record: parsed.data }
        : undefined;
    },
  };
}
