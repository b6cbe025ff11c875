import {
  type Clock,
  type Logger,
  type Metrics,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
} from "@troupe/core";
import { createStateCleaner } from "../flow-control/cleanup.js";
import type { FlowKeys } from "../keys.js";
import { decodeExpiryEntry, expiryKeys } from "./expiry-index.js";
import { type ExpiryPlan, keyToRead, planExpiry, type RemovedKind } from "./expiry-plan.js";
import type { RetentionSettings } from "./retention-options.js";

/** What one sweep did. */
export interface RetentionReport {
  /** Passes made (each: one page of due index entries). */
  readonly passes: number;
  /** Records deleted, by kind. */
  readonly removed: Partial<Record<RemovedKind, number>>;
  /** False when the pass budget ran out with due entries left (the next sweep goes on). */
  readonly caughtUp: boolean;
}

/** The background deleter of expired records. */
export interface RetentionSweeper {
  /** Sweeps now (joining a sweep in flight) until caught up or out of passes. */
  sweep(): Promise<RetentionReport>;
  /** Starts a sweep in the background unless one is in flight; failures are logged. */
  kick(): void;
  /** Ends a sweep in flight after its current pass, and waits for it. */
  stop(): Promise<void>;
}

/** What the sweeper needs. */
export interface RetentionSweeperDeps {
  readonly store: Store;
  readonly keys: FlowKeys;
  readonly prefix: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Undefined: retention is off (only flow-control keys that mean nothing any more go). */
  readonly settings: RetentionSettings | undefined;
  readonly dedupeWindowMs: number;
}

/** Ops per commit at most: a page of plans is split into commits of about this size. */
const OPS_PER_COMMIT = 500;

const CLEANED_KIND: Readonly<Record<string, RemovedKind>> = {
  r: "rate_limit",
  i: "idempotency",
  t: "throttle",
};

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Creates the retention sweeper. Each pass lists one page (`batchSize`) of due entries of the
 * expiry index, reads the runs and dedupe keys they name in one `getMany`, and deletes what
 * `planExpiry` says in commits of about 500 ops; passes repeat, yielding to the event loop in
 * between, until no entry is due or `maxPassesPerSweep` is spent. Several processes may sweep at
 * once: deletes of the same keys are idempotent and guarded ones conflict harmlessly (the entry
 * stays for the next pass). Expired rate-limit, idempotency and throttle keys, which carry their
 * own expiry, are cleaned a page per kind per sweep.
 */
export function createRetentionSweeper(deps: RetentionSweeperDeps): RetentionSweeper {
  const { store, keys, clock, settings } = deps;
  const index = expiryKeys(deps.prefix);
  const removedTotal = deps.metrics.counter("troupe_retention_removed_total", {
    help: "Records deleted by retention, by kind",
  });
  const passesTotal = deps.metrics.counter("troupe_retention_passes_total", {
    help: "Retention sweeper passes (one page of due expiry entries each)",
  });
  const lagMs = deps.metrics.gauge("troupe_retention_lag_ms", {
    help: "Age of the oldest due expiry entry left after the last sweep (0 when caught up), ms",
  });
  const cleanFlowControl = createStateCleaner({
    store,
    prefix: deps.prefix,
    now: () => clock.now(),
  });
  let inFlight: Promise<RetentionReport> | undefined;
  let stopping = false;

  const commitPlans = async (
    plans: readonly ExpiryPlan[],
    removed: Partial<Record<RemovedKind, number>>,
  ) => {
    const count = (plan: ExpiryPlan) => {
      for (const [kind, n] of Object.entries(plan.removed) as [RemovedKind, number][]) {
        if (n > 0) removed[kind] = (removed[kind] ?? 0) + n;
      }
    };
    try {
      await store.commit(plans.flatMap((plan) => plan.ops));
      for (const plan of plans) count(plan);
    } catch (error) {
      if (!StoreConflictError.isInstance(error)) throw error;
      // A run changed or a dedupe key was set again since the read: one by one, so only that
      // entry waits for the next pass.
      for (const plan of plans) {
        try {
          await store.commit(plan.ops);
          count(plan);
        } catch (inner) {
          if (!StoreConflictError.isInstance(inner)) throw inner;
        }
      }
    }
  };

  /** One page; resolves to the entries handled and the oldest due time among them. */
  const pass = async (
    batchSize: number,
    removed: Partial<Record<RemovedKind, number>>,
  ): Promise<{ handled: number; firstAt: number | undefined }> => {
    const now = clock.now();
    const page = await store.list({ prefix: index.base, end: index.dueEnd(now), limit: batchSize });
    if (page.length === 0) return { handled: 0, firstAt: undefined };
    const decoded = page.map((entry) => decodeExpiryEntry(index.base, entry));
    const reads = decoded.map((entry) => (entry ? keyToRead(entry, keys) : undefined));
    const wanted = [...new Set(reads.filter((key): key is string => key !== undefined))];
    const current = new Map<string, StoreEntry | undefined>();
    if (wanted.length > 0) {
      const found = await store.getMany(wanted);
      for (const [at, key] of wanted.entries()) current.set(key, found[at]);
    }
    const plans: ExpiryPlan[] = page.map((raw, at) => {
      const entry = decoded[at];
      // A key in the index's range that this version cannot read: dropped, or it would sit at
      // the head of every page.
      if (!entry) return { ops: [{ type: "delete", key: raw.key }], removed: {} };
      const read = reads[at];
      return planExpiry(entry, read === undefined ? undefined : current.get(read), {
        keys,
        now,
        dedupeWindowMs: deps.dedupeWindowMs,
      });
    });
    // Commits of about OPS_PER_COMMIT ops, never naming a key twice in one commit.
    let chunk: ExpiryPlan[] = [];
    let seen = new Set<string>();
    let size = 0;
    for (const plan of plans) {
      if (size + plan.ops.length > OPS_PER_COMMIT && chunk.length > 0) {
        await commitPlans(chunk, removed);
        chunk = [];
        seen = new Set();
        size = 0;
      }
      const ops: StoreOp[] = plan.ops.filter((op) => !seen.has(op.key));
      chunk.push({ ops, removed: plan.removed });
      for (const op of ops) seen.add(op.key);
      size += ops.length;
    }
    if (chunk.length > 0) await commitPlans(chunk, removed);
    passesTotal.inc(1);
    return { handled: page.length, firstAt: decoded[0]?.at };
  };

  const run = async (): Promise<RetentionReport> => {
    const removed: Partial<Record<RemovedKind, number>> = {};
    let passes = 0;
    let caughtUp = true;
    if (settings) {
      caughtUp = false;
      let firstAt: number | undefined;
      while (passes < settings.maxPassesPerSweep && !stopping) {
        const result = await pass(settings.batchSize, removed);
        passes++;
        firstAt = result.firstAt;
        if (result.handled < settings.batchSize) {
          caughtUp = true;
          break;
        }
        await yieldToEventLoop();
      }
      lagMs.set(caughtUp || firstAt === undefined ? 0 : Math.max(0, clock.now() - firstAt));
    }
    const cleaned = await cleanFlowControl();
    for (const [letter, n] of Object.entries(cleaned)) {
      const kind = CLEANED_KIND[letter];
      if (kind && n > 0) removed[kind] = (removed[kind] ?? 0) + n;
    }
    for (const [kind, n] of Object.entries(removed)) removedTotal.inc(n, { kind });
    return { passes, removed, caughtUp };
  };

  const sweep = () => {
    if (!inFlight) {
      stopping = false;
      inFlight = run().finally(() => {
        inFlight = undefined;
      });
    }
    return inFlight;
  };

  return {
    sweep,
    kick() {
      sweep().catch((error: unknown) => {
        deps.logger.warn("flows: retention sweep failed; the next sweep retries", { error });
      });
    },
    async stop() {
      stopping = true;
      await inFlight?.catch(() => undefined);
    },
  };
}
