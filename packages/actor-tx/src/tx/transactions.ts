import type { ActorSystem, UntypedActorRef } from "@troupe/actors";
import {
  type Clock,
  invalidArgument,
  type Logger,
  type Metrics,
  noopLogger,
  noopMetrics,
  parseWith,
  systemClock,
  type Timer,
  TroupeError,
  ulid,
} from "@troupe/core";
import { z } from "zod";
import { addContextTransaction } from "./context-transaction.js";
import { DECISION_LOG_TYPE, type DecisionLog } from "./decision-log.js";
import { isStale, type ParticipantRef } from "./decision-state.js";
import { retryTxId } from "./retry-id.js";
import { createdIdentity } from "./store-identity.js";
import { runTransaction, type Transaction, type TransactionFaults } from "./transaction.js";

/** Options of {@link createTransactions}. */
export interface TransactionsOptions {
  /** The actor system whose actors take part (it must register the decision log's actor). */
  readonly system: ActorSystem;
  /** The decision log (`createDecisionLog`) whose actor the system registers. */
  readonly decisions: DecisionLog;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /** Default 5,000: a transaction not committed by then aborts. */
  readonly timeoutMs?: number;
  /** Default 5,000: how often the resolver looks for committed records whose phase 2 did not finish. */
  readonly resolveEveryMs?: number;
  /** Default 2 × timeoutMs: how old such a record must be before the resolver finishes it. */
  readonly resolveGraceMs?: number;
  /**
   * Default max(60 s, 10 × timeoutMs): how long the record of a transaction aborted by an
   * in-doubt participant is kept, so a coordinator that is still running (far past its deadline)
   * cannot commit it afterwards.
   */
  readonly retainAbortedMs?: number;
  /** Counters `actors_tx_*_total` (see the README). */
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** Test seams: stop the coordinator between phases as if it crashed. */
  readonly faults?: TransactionFaults;
  /** Jitter of retries while a participant is held by another transaction. Default `Math.random`. */
  readonly random?: () => number;
  /**
   * Default 50: how long (ms) a step that finds its participant held by an _older_ transaction
   * keeps asking (as an older one would) before this transaction aborts with `TX_CONFLICT`.
   * 0 is classic wait-die: it aborts at once. The wait is bounded, so a cycle of waits still
   * breaks within this time.
   */
  readonly conflictWaitMs?: number;
}

/** Options of one {@link Transactions.run}. */
export interface RunOptions {
  /** Default: the `timeoutMs` of `createTransactions`. */
  readonly timeoutMs?: number;
  /**
   * Default 0: how many times to run the body again (as a new transaction) after it aborted with
   * `TX_CONFLICT` (an older transaction held a participant), after a jittered backoff that
   * doubles from 1 ms to 100 ms. Only for bodies safe to run again. A retry keeps the age of the
   * first attempt (its id is the first id followed by `.n`), so it waits for the transactions
   * started after that instead of dying against them again.
   */
  readonly conflictRetries?: number;
}

/** Runs transactions across actors and finishes the ones whose coordinator died. */
export interface Transactions {
  /**
   * Runs `body` as one transaction and returns its result once it committed. Rejects (nothing
   * applied) when the body throws, a step fails, or the deadline passes; `TX_OUTCOME_UNKNOWN`
   * only when the decision record could not be reached at all.
   */
  run<R>(body: (tx: Transaction) => Promise<R>, options?: RunOptions): Promise<R>;
  /** One resolver pass now; returns how many committed transactions it finished. */
  resolveNow(): Promise<number>;
  /** Stops the background resolver (running transactions go on). */
  close(): void;
}

const optionsSchema = z.object({
  timeoutMs: z.number().int().positive().optional(),
  resolveEveryMs: z.number().int().positive().optional(),
  resolveGraceMs: z.number().int().min(0).optional(),
  retainAbortedMs: z.number().int().min(0).optional(),
  conflictWaitMs: z.number().min(0).optional(),
});

const PAGE = 500;
/** How many participants' references the coordinator keeps (see `participantRef`). */
const MAX_PARTICIPANT_REFS = 4_096;
/** How long a younger step asks an older holder again before it dies (ms). */
const DEFAULT_CONFLICT_WAIT_MS = 50;

/**
 * Transactions across actors on `system`: two-phase commit with the decision in a record of
 * `createDecisionLog`, and a background resolver that completes committed transactions whose
 * coordinator died before every participant heard the outcome.
 */
export function createTransactions(options: TransactionsOptions): Transactions {
  const checked = parseWith(optionsSchema, options, "createTransactions");
  const { system } = options;
  const records = options.decisions?.records;
  if (records === undefined) {
    throw invalidArgument("createTransactions.decisions", "pass the result of createDecisionLog");
  }
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const metrics = options.metrics ?? noopMetrics;
  const timeoutMs = checked.timeoutMs ?? 5_000;
  const resolveEveryMs = checked.resolveEveryMs ?? 5_000;
  const resolveGraceMs = checked.resolveGraceMs ?? 2 * timeoutMs;
  const retainAbortedMs = checked.retainAbortedMs ?? Math.max(60_000, 10 * timeoutMs);
  // A system's types are fixed when it is created: what each takes part as is looked up once,
  // not on every step (system.types() builds its description anew on each call).
  const kinds = new Map(
    system
      .types()
      .map((t) => [
        t.name,
        t.actions.some((a) => a.name === "txPrepare")
          ? ("transactional" as const)
          : ("plain" as const),
      ]),
  );
  if (!kinds.has(DECISION_LOG_TYPE)) {
    throw invalidArgument(
      "createTransactions.system",
      `register the decision log's actor (${DECISION_LOG_TYPE}, createDecisionLog().actor) in the system's actors`,
    );
  }
  const started = metrics.counter("actors_tx_started_total", { help: "Transactions started" });
  const committed = metrics.counter("actors_tx_committed_total", {
    help: "Transactions committed",
  });
  const aborted = metrics.counter("actors_tx_aborted_total", { help: "Transactions aborted" });
  const recovered = metrics.counter("actors_tx_recovered_total", {
    help: "Committed transactions whose phase 2 the resolver finished after the coordinator died",
  });
  const conflicts = metrics.counter("actors_tx_conflict_retries_total", {
    help: "Transactions run again after a younger-dies conflict",
  });
  const busy = metrics.counter("actors_tx_busy_retries_total", {
    help: "Prepares retried because another transaction held the participant",
  });

  // The id of the records' Store data, looked up once a transaction had a participant that
  // prepared durably (a pure one-process workload never writes it).
  let home: string | undefined;
  let homeAsked = false;
  const storeHome = (wanted: boolean): string | undefined => {
    if (home === undefined && wanted && !homeAsked) {
      homeAsked = true;
      createdIdentity(records.store).then(
        (id) => {
          home = id;
        },
        (error: unknown) => {
          homeAsked = false;
          logger.warn("transactions: the Store's identity could not be read", { error });
        },
      );
    }
    return home;
  };
  // References to participants, by type and key. The coordinator's calls (prepare, commit,
  // abort) go through references rather than by name (`system.invoke`): it builds their
  // arguments itself, and a call by name checks them against the action's schema on every step
  // (a node that receives one from another node still checks). Bounded: emptied when full.
  const participantRefs = new Map<string, UntypedActorRef>();
  const participantRef = (ref: ParticipantRef): UntypedActorRef => {
    const id = `${ref.type}/${typeof ref.key}:${ref.key}`;
    let found = participantRefs.get(id);
    if (found === undefined) {
      if (participantRefs.size >= MAX_PARTICIPANT_REFS) participantRefs.clear();
      found = system.ref({ type: ref.type, key: ref.key });
      participantRefs.set(id, found);
    }
    return found;
  };
  const deps = {
    home: storeHome,
    clock,
    logger,
    nextId: ulid,
    random: options.random ?? Math.random,
    conflictWaitMs: options.conflictWaitMs ?? DEFAULT_CONFLICT_WAIT_MS,
    faults: options.faults,
    typeKind: (type: string) => kinds.get(type) ?? ("unknown" as const),
    call: (ref: ParticipantRef, action: string, args: readonly unknown[]) => {
      try {
        return participantRef(ref).call(action, ...args);
      } catch (error) {
        return Promise.reject(error); // an unknown type or a bad key, as system.invoke rejects
      }
    },
    records,
    counters: {
      started: () => started.inc(),
      committed: () => committed.inc(),
      aborted: () => aborted.inc(),
      busyRetry: () => busy.inc(),
    },
  };

  let closed = false;
  let timer: Timer | undefined;
  let running: Promise<number> | undefined;

  const resolvePass = async (): Promise<number> => {
    const { prefix, store } = records;
    let start: string | undefined;
    let finished = 0;
    for (;;) {
      const page = await store.list({ prefix, limit: PAGE, ...(start ? { start } : {}) });
      for (const entry of page) {
        const parsed = records.parse(entry);
        if (parsed === undefined) continue;
        const { txId, record } = parsed;
        const now = clock.now();
        if (record.decision === "aborted" && record.decidedAt + retainAbortedMs <= now) {
          await store
            .commit([{ type: "delete", key: entry.key, expect: entry.version }])
            .catch(() => {});
          continue;
        }
        if (!isStale(record, now, resolveGraceMs)) continue;
        const outcomes = await Promise.allSettled(
          record.participants.map((ref) => system.invoke(ref.type, ref.key, "txCommit", [txId])),
        );
        if (outcomes.every((o) => o.status === "fulfilled")) {
          await records.finish(txId);
          recovered.inc();
          finished += 1;
        }
      }
      if (page.length < PAGE) return finished;
      start = `${page[page.length - 1]?.key ?? prefix}\u0000`;
    }
  };

  const resolveNow = (): Promise<number> => {
    running ??= resolvePass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = () => {
    if (closed) return;
    timer = clock.setTimer(resolveEveryMs, () => {
      resolveNow()
        .catch((error: unknown) => logger.warn("transaction resolver pass failed", { error }))
        .finally(schedule);
    });
  };
  schedule();

  const transactions: Transactions = {
    async run(body, runOptions) {
      const retries = runOptions?.conflictRetries ?? 0;
      const firstId = deps.nextId();
      for (let attempt = 0; ; attempt++) {
        try {
          // A retry keeps the first attempt's age, so wait-die cannot starve it.
          const txId = retryTxId(firstId, attempt);
          return await runTransaction(deps, body, runOptions?.timeoutMs ?? timeoutMs, txId);
        } catch (error) {
          if (attempt >= retries || !TroupeError.isInstance(error, "TX_CONFLICT")) throw error;
          conflicts.inc();
          // Back off (jittered, doubling to 100 ms) so the older holder can finish first.
          await clock.sleep(Math.min(100, 2 ** attempt) * (0.5 + deps.random()));
        }
      }
    },
    resolveNow,
    close() {
      closed = true;
      timer?.cancel();
    },
  };
  addContextTransaction(system, transactions); // ctx.transaction in this system's handlers
  return transactions;
}
