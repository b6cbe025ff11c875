import { createHash } from "node:crypto";
import { serialize } from "node:v8";
import {
  type Clock,
  invalidArgument,
  type Logger,
  type Metrics,
  noopLogger,
  noopMetrics,
  systemClock,
  TroupeError,
} from "@troupe/core";
import { foldFor } from "./aggregate.js";
import { type BatchHost, BatchPool, type StatsWorkerOptions } from "./batch-pool.js";
import { subsystemSignature } from "./batch-protocol.js";
import {
  decodeStoredSnapshot,
  encodeStoredSnapshot,
  type L1Stats,
  SnapshotLru,
  type SnapshotTier,
} from "./cache.js";
import { describeValue, statsInputError } from "./errors.js";
import { type Explanation, explainOutputs } from "./explain.js";
import { StatFold } from "./fold.js";
import {
  type CompiledRegistry,
  type CompileRegistryOptions,
  canonicalJson,
  compileRegistry,
} from "./registry.js";
import {
  createSubsystemRegistry,
  type RegisteredSubsystem,
  type Subsystem,
  type SubsystemInput,
  type SubsystemRegistry,
} from "./subsystems.js";
import type {
  Actor,
  CombinerRegistry,
  LayerRegistry,
  MergeRule,
  Snapshot,
  StatValues,
  SubsystemOutput,
} from "./types.js";
import { asyncEmit, isThenable } from "./writer.js";

/** What to do when a subsystem throws or returns an invalid output (rule R10). */
export type FailurePolicy = "fail_fast" | "degrade";

/** Cache options of {@link createStatsAggregator}. */
export interface StatsCacheOptions {
  /** L1 capacity in actors; default 10,000. 0 disables L1. */
  readonly maxEntries?: number;
  /** L1 time to live in ms (a safety net: keys already carry version and epoch); default 300,000. */
  readonly ttlMs?: number;
  /** L2, L3, … tiers on any Store, looked up in this order after L1. */
  readonly tiers?: readonly SnapshotTier[];
}

/** Options of {@link createStatsAggregator}. */
export interface StatsAggregatorOptions {
  /** The combiner registry (a merge rule per dimension). */
  readonly combiner: CombinerRegistry;
  /** The layer registry; default `[REALM, WORLD, EVENT, TOTAL]`, INTERSECT. */
  readonly layers?: LayerRegistry;
  /** Reject dimensions missing from the combiner registry. Default false. */
  readonly strict?: boolean;
  /** Rule for dimensions missing from the registry; default `{ use_pipeline: true, clamp_default: [0, 1e6] }`. */
  readonly defaultRule?: MergeRule;
  /** Initial subsystems. More can be registered later through `subsystems`. */
  readonly subsystems?: readonly Subsystem[];
  /** `fail_fast` (default) rejects the resolve; `degrade` leaves the subsystem out and records it. */
  readonly failurePolicy?: FailurePolicy;
  /** Snapshot cache tiers. */
  readonly cache?: StatsCacheOptions;
  /** Time source for `created_at` and the L1 TTL; default the system clock. */
  readonly clock?: Clock;
  /** Where the `actor_core_*` metrics go; default none. */
  readonly metrics?: Metrics;
  /** Where cache-tier failures are logged; default none. */
  readonly logger?: Logger;
  /**
   * Resolve batches of at least `minBatch` actors (default 1,000) on worker threads, which
   * import their subsystems from `module`; default none (every batch on the calling thread).
   * Batches with store tiers configured stay on the calling thread.
   */
  readonly workers?: StatsWorkerOptions;
}

/** Announced to `onReload` listeners when a registry reload or subsystem change starts a new epoch. */
export interface ReloadEvent {
  /** The new epoch. */
  readonly epoch: number;
  /** The epoch before. */
  readonly previousEpoch: number;
  /** The fingerprint of the new registries and subsystem set (keys persistent tiers). */
  readonly fingerprint: string;
  /** What changed. */
  readonly reason: "registry" | "subsystems";
}

/** New registries for {@link StatsAggregator.reload}; omitted parts stay as they are. */
export interface RegistryUpdate {
  /** A new combiner registry. */
  readonly combiner?: CombinerRegistry;
  /** A new layer registry. */
  readonly layers?: LayerRegistry;
}

/** One entry of a `resolveBatch` result, in input order. */
export type BatchResult =
  | { readonly actorId: string; readonly snapshot: Snapshot; readonly error?: undefined }
  | { readonly actorId: string; readonly snapshot?: undefined; readonly error: Error };

/** An explanation of one dimension for one actor, with the actor's identity. */
export interface ActorExplanation extends Explanation {
  /** The actor's id. */
  readonly actorId: string;
  /** The actor version explained. */
  readonly version: number;
  /** The registry epoch used. */
  readonly epoch: number;
  /** With `degrade`: the subsystems left out. */
  readonly failedSystems?: readonly string[];
}

/** The stat engine: resolves actors to snapshots through the subsystems, caches, explains. */
export interface StatsAggregator {
  /** The current registry epoch; bumped by `reload` and subsystem changes. */
  readonly epoch: number;
  /** The compiled registries in use. */
  readonly registry: CompiledRegistry;
  /** The plugin registry; changes start a new epoch. */
  readonly subsystems: SubsystemRegistry;
  /** Resolves `actor`: from cache (L1, then tiers) when fresh, else computed and cached. */
  resolve(actor: Actor): Promise<Snapshot>;
  /**
   * Resolves `actor` synchronously, for a game loop: the same result as {@link resolve}, without
   * a promise. Every subsystem it runs must be synchronous and no store tier may be configured;
   * otherwise it throws `INVALID_ARGUMENT` (an asynchronous subsystem already called still
   * finishes, and its snapshot is cached).
   */
  resolveSync(actor: Actor): Snapshot;
  /** Resolves many actors; one result per actor, in input order; one failure does not stop others. */
  resolveBatch(actors: readonly Actor[]): Promise<BatchResult[]>;
  /** The L1 snapshot of `actorId` under the current epoch (at `version`, when given). Synchronous. */
  getCachedSnapshot(actorId: string, version?: number): Snapshot | undefined;
  /** Drops `actorId` from every tier. */
  invalidate(actorId: string): Promise<void>;
  /** Explains why `dimension` of `actor` has its value (rule R12). Always computed, never cached. */
  explain(actor: Actor, dimension: string): Promise<ActorExplanation>;
  /** Swaps in new registries (validated first; on error nothing changes) and starts a new epoch. */
  reload(update: RegistryUpdate): ReloadEvent;
  /** Calls `listener` on every new epoch; returns an unsubscribe function. */
  onReload(listener: (event: ReloadEvent) => void): () => void;
  /** L1 counters. */
  cacheStats(): L1Stats;
  /** Stops the batch workers, if any (idle workers never keep the process alive). */
  close(): Promise<void>;
}

const EMPTY_INPUT: SubsystemInput = Object.freeze({ primary: Object.freeze({}) });
const NO_OUTPUTS: SubsystemOutput[] = [];
const NO_SYSTEMS: string[] = [];
const L1_LABELS = Object.freeze({ tier: "l1" });

interface EngineState {
  readonly registry: CompiledRegistry;
  readonly epoch: number;
  readonly fingerprint: string;
}

interface Computed {
  readonly values: StatValues;
  readonly failed: string[] | undefined;
  readonly outputs: SubsystemOutput[];
  readonly systems: string[];
}

/**
 * Whether a subsystem returned a thenable instead of an output. Its own function (not shared
 * with other checks) so the `then` lookup sees only output objects and stays a cheap,
 * few-shape property miss: shared with snapshots and promises it went megamorphic, ~5 % of a
 * resolve.
 */
function isPendingOutput(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Our own pending results are native promises (from `async` functions). */
function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/**
 * Checks the fields of `actor` a resolve relies on. The check is inlined into every resolve, so
 * it stays small: naming the problem is {@link actorError}'s job.
 */
function validateActor(actor: Actor): void {
  if (
    typeof actor !== "object" ||
    actor === null ||
    typeof actor.id !== "string" ||
    actor.id === "" ||
    !Number.isSafeInteger(actor.version) ||
    actor.version < 0 ||
    !Array.isArray(actor.subsystems)
  ) {
    throw actorError(actor);
  }
}

/** The error naming what is wrong with an actor that failed {@link validateActor}. */
function actorError(actor: Actor): TroupeError {
  if (typeof actor !== "object" || actor === null) {
    return invalidArgument("actor", "expected an actor object");
  }
  if (typeof actor.id !== "string" || actor.id === "") {
    return invalidArgument(
      "actor.id",
      `expected a non-empty string, got ${describeValue(actor.id)}`,
    );
  }
  if (!Number.isSafeInteger(actor.version) || actor.version < 0) {
    return invalidArgument(
      "actor.version",
      `expected an integer ≥ 0, got ${describeValue(actor.version)}`,
    );
  }
  return invalidArgument("actor.subsystems", "expected an array of subsystem ids");
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A snapshot with its context packs and failed systems (out of line: most snapshots have none). */
function withExtras(base: Snapshot, values: StatValues, failed: string[] | undefined): Snapshot {
  return {
    ...base,
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(failed === undefined ? {} : { failed_systems: failed }),
  };
}

/** Creates the stat engine. Validates both registries up front (errors name dimension and field). */
export function createStatsAggregator(options: StatsAggregatorOptions): StatsAggregator {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const metrics = options.metrics ?? noopMetrics;
  const timed = options.metrics !== undefined;
  const failurePolicy = options.failurePolicy ?? "fail_fast";
  if (failurePolicy !== "fail_fast" && failurePolicy !== "degrade") {
    throw invalidArgument(
      "failurePolicy",
      `expected "fail_fast" or "degrade", got ${String(failurePolicy)}`,
    );
  }
  const maxEntries = options.cache?.maxEntries ?? 10_000;
  const ttlMs = options.cache?.ttlMs ?? 300_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
    throw invalidArgument("cache.maxEntries", `expected an integer ≥ 0, got ${maxEntries}`);
  }
  if (!(ttlMs > 0))
    throw invalidArgument("cache.ttlMs", `expected a positive number, got ${ttlMs}`);
  const tiers = (options.cache?.tiers ?? []).map((tier, index) => {
    if (typeof tier?.store?.get !== "function" || typeof tier.store.commit !== "function") {
      throw invalidArgument(`cache.tiers[${index}].store`, "expected a Store");
    }
    const name = tier.name ?? `l${index + 2}`;
    return {
      store: tier.store,
      name,
      keyPrefix: tier.keyPrefix ?? "stats/snapshot/",
      labels: { tier: name },
    };
  });

  const requests = metrics.counter("actor_core_requests_total", {
    help: "Stat resolves requested.",
  });
  const duration = metrics.histogram("actor_core_request_duration_seconds", {
    help: "Time to resolve an actor's stats.",
    buckets: [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1],
  });
  const cacheHits = metrics.counter("actor_core_cache_hits_total", {
    help: "Snapshot cache hits by tier.",
  });
  const cacheMisses = metrics.counter("actor_core_cache_misses_total", {
    help: "Snapshot cache misses by tier.",
  });
  const errors = metrics.counter("actor_core_errors_total", {
    help: "Failed resolves and cache-tier errors.",
  });
  const activeActors = metrics.gauge("actor_core_active_actors", {
    help: "Actors with a snapshot in the L1 cache.",
  });

  const compileOptions: CompileRegistryOptions = {
    ...(options.strict === undefined ? {} : { strict: options.strict }),
    ...(options.defaultRule === undefined ? {} : { defaultRule: options.defaultRule }),
  };
  const subsystems = createSubsystemRegistry(options.subsystems ?? []);
  const l1 = maxEntries > 0 ? new SnapshotLru(maxEntries, ttlMs, clock) : undefined;
  const listeners = new Set<(event: ReloadEvent) => void>();
  const pool = options.workers === undefined ? undefined : new BatchPool(options.workers);

  const fingerprintOf = (registry: CompiledRegistry) =>
    createHash("sha256")
      .update(
        canonicalJson({
          registry: registry.fingerprint,
          subsystems: subsystems
            .list()
            .map((s) => [s.id, s.priority ?? 0, s.stage ?? "primary", s.version ?? 0]),
        }),
      )
      .digest("hex")
      .slice(0, 32);

  const initialRegistry = compileRegistry(options.combiner, options.layers, compileOptions);
  let state: EngineState = {
    registry: initialRegistry,
    epoch: 1,
    fingerprint: fingerprintOf(initialRegistry),
  };

  const startEpoch = (registry: CompiledRegistry, reason: ReloadEvent["reason"]): ReloadEvent => {
    const previousEpoch = state.epoch;
    state = { registry, epoch: previousEpoch + 1, fingerprint: fingerprintOf(registry) };
    // Old-epoch entries could never be served anyway; dropping them frees the memory at once.
    l1?.clear();
    activeActors.set(0);
    const event: ReloadEvent = {
      epoch: state.epoch,
      previousEpoch,
      fingerprint: state.fingerprint,
      reason,
    };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.warn("stats reload listener failed", { error: errorMessage(error) });
      }
    }
    return event;
  };
  subsystems.onChange(() => {
    startEpoch(state.registry, "subsystems");
  });

  /** The actor's subsystems in run order; unknown or repeated ids are errors. */
  // Actors usually list the same subsystems: the last selection is reused when the ids match
  // (one reference comparison per id) and the subsystem set has not changed since.
  let lastIds: string[] = [];
  let lastSelected: RegisteredSubsystem[] = [];
  let lastSelectionState: EngineState | undefined;
  // Of the last selection: whether any subsystem runs after the primary stage, and how many emit.
  let lastHasPost = false;
  let lastEmitting = 0;
  const selectSubsystems = (actor: Actor): RegisteredSubsystem[] => {
    const ids = actor.subsystems;
    if (lastSelectionState === state && ids.length === lastIds.length) {
      let same = true;
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== lastIds[i]) {
          same = false;
          break;
        }
      }
      if (same) return lastSelected;
    }
    const selected = selectFresh(actor);
    lastIds = [...ids];
    lastSelected = selected;
    lastSelectionState = state;
    lastHasPost = selected.some((entry) => entry.postPrimary);
    lastEmitting = selected.filter((entry) => entry.emits).length;
    return selected;
  };
  const selectFresh = (actor: Actor): RegisteredSubsystem[] => {
    const ids = actor.subsystems;
    const selected: RegisteredSubsystem[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const entry = subsystems.get(id);
      if (entry === undefined) {
        throw invalidArgument(
          `actor.subsystems[${i}]`,
          `no subsystem ${describeValue(id)} is registered (actor ${JSON.stringify(actor.id)})`,
        );
      }
      // Insertion by run order: actors usually list their subsystems in a stable order.
      let j = selected.length - 1;
      selected.push(entry);
      while (j >= 0 && (selected[j] as RegisteredSubsystem).order > entry.order) {
        selected[j + 1] = selected[j] as RegisteredSubsystem;
        j--;
      }
      if (j >= 0 && (selected[j] as RegisteredSubsystem).order === entry.order) {
        throw invalidArgument(
          `actor.subsystems[${i}]`,
          `subsystem ${JSON.stringify(id)} is listed twice`,
        );
      }
      selected[j + 1] = entry;
    }
    return selected;
  };

  const subsystemFailure = (system: string, actor: Actor, cause: unknown) =>
    TroupeError.isInstance(cause, "INVALID_ARGUMENT")
      ? cause
      : new TroupeError(
          "SUBSYSTEM_FAILED",
          `subsystem ${JSON.stringify(system)} failed for actor ${JSON.stringify(actor.id)}: ${errorMessage(cause)}`,
          { cause, details: { system, actorId: actor.id } },
        );

  const scratchResults: unknown[] = [];
  let calling = false;
  // The fold of the registry used last (`foldFor` is a WeakMap lookup).
  let lastFoldRegistry: CompiledRegistry | undefined;
  let lastFold: StatFold | undefined;

  /** Calls subsystems; sync results stay sync (no promise per subsystem unless one is async). */
  const callAll = (
    actor: Actor,
    list: readonly RegisteredSubsystem[],
    input: SubsystemInput,
  ): { results: unknown[]; failures: (unknown | undefined)[] | undefined; pending: boolean } => {
    const results: unknown[] = new Array(list.length);
    let failures: (unknown | undefined)[] | undefined;
    let pending = false;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i] as RegisteredSubsystem;
      const subsystem = entry.subsystem;
      try {
        const result = entry.output(actor, input);
        if (isPendingOutput(result)) pending = true;
        results[i] = result;
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(subsystem.id, actor, error);
        failures ??= new Array(list.length);
        failures[i] = error;
      }
    }
    return { results, failures, pending };
  };

  const settle = async (
    actor: Actor,
    list: readonly RegisteredSubsystem[],
    called: ReturnType<typeof callAll>,
  ): Promise<void> => {
    // allSettled attaches a handler to every promise at once, so no rejection goes unhandled
    // while an earlier one is awaited.
    const settled = await Promise.allSettled(called.results);
    for (let i = 0; i < settled.length; i++) {
      const outcome = settled[i] as PromiseSettledResult<unknown>;
      if (outcome.status === "fulfilled") {
        called.results[i] = outcome.value;
        continue;
      }
      if (called.failures?.[i] !== undefined) continue;
      const system = (list[i] as RegisteredSubsystem).subsystem.id;
      if (failurePolicy === "fail_fast") throw subsystemFailure(system, actor, outcome.reason);
      called.failures ??= new Array(list.length);
      called.failures[i] = outcome.reason;
    }
  };

  /** Folds outputs in run order; in degrade mode invalid outputs are left out and recorded. */
  const foldOutputs = (
    registry: CompiledRegistry,
    actor: Actor,
    entries: readonly { system: string; output: unknown; failed: boolean }[],
    failed: string[] | undefined,
  ): { values: StatValues; failed: string[] | undefined } => {
    const fold = foldFor(registry);
    fold.begin();
    let failedSystems = failed;
    for (const entry of entries) {
      if (entry.failed) continue;
      try {
        fold.add(entry.output as SubsystemOutput, entry.system);
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(entry.system, actor, error);
        failedSystems ??= [];
        failedSystems.push(entry.system);
        logger.warn("stats subsystem output rejected", {
          system: entry.system,
          error: errorMessage(error),
        });
      }
    }
    return { values: fold.finish(), failed: failedSystems };
  };

  /**
   * Runs the actor's subsystems and folds their outputs. The common case (no post_primary stage,
   * every subsystem synchronous and successful, not explaining) stays synchronous and allocates
   * no bookkeeping; everything else goes through {@link computeFully}.
   */
  const compute = (
    actor: Actor,
    registry: CompiledRegistry,
    keepOutputs: boolean,
  ): Computed | Promise<Computed> => {
    const selected = selectSubsystems(actor);
    if (lastHasPost || keepOutputs) return computeFully(actor, registry, selected, undefined);
    // Subsystems are called into a reused array: this path allocates no bookkeeping. A subsystem
    // that resolves another actor from inside `contribute` gets a fresh array instead. Emitting
    // subsystems are called later, while folding, in their place.
    const results = calling ? new Array<unknown>(selected.length) : scratchResults;
    let pending = false;
    let failures: unknown[] | undefined;
    const emitters = lastEmitting > 0;
    const onlyEmitters = lastEmitting === selected.length;
    calling = true;
    try {
      for (let i = 0; i < selected.length && !onlyEmitters; i++) {
        const entry = selected[i] as RegisteredSubsystem;
        if (entry.emits) {
          results[i] = undefined;
          continue;
        }
        const subsystem = entry.subsystem;
        try {
          const result = (subsystem as Required<Subsystem>).contribute(actor, EMPTY_INPUT);
          if (isPendingOutput(result)) pending = true;
          results[i] = result;
        } catch (error) {
          if (failurePolicy === "fail_fast") throw subsystemFailure(subsystem.id, actor, error);
          failures ??= new Array(selected.length);
          failures[i] = error;
        }
      }
    } finally {
      calling = results !== scratchResults;
    }
    if (pending || failures !== undefined) {
      const called = { results: results.slice(0, selected.length), failures, pending };
      if (emitters) {
        // The slow path folds outputs: record what the emitting subsystems write.
        for (let i = 0; i < selected.length; i++) {
          const entry = selected[i] as RegisteredSubsystem;
          if (!entry.emits) continue;
          try {
            called.results[i] = entry.output(actor, EMPTY_INPUT);
          } catch (error) {
            if (failurePolicy === "fail_fast")
              throw subsystemFailure(entry.subsystem.id, actor, error);
            called.failures ??= new Array(selected.length);
            called.failures[i] = error;
          }
        }
      }
      return computeFully(actor, registry, selected, called);
    }
    // A subsystem emitting into this registry's fold may resolve another actor from inside
    // `emit`: that resolve folds in a fold of its own.
    if (registry !== lastFoldRegistry) {
      lastFold = foldFor(registry);
      lastFoldRegistry = registry;
    }
    const shared = lastFold as StatFold;
    const fold = shared.busy ? new StatFold(registry) : shared;
    fold.begin();
    let failed: string[] | undefined;
    for (let i = 0; i < selected.length; i++) {
      const entry = selected[i] as RegisteredSubsystem;
      const system = entry.subsystem.id;
      try {
        if (entry.emits) {
          const writer = fold.beginEmit(system);
          let returned: unknown;
          try {
            returned = (entry.subsystem as Required<Subsystem>).emit(actor, writer, EMPTY_INPUT);
          } catch (error) {
            fold.abortEmit();
            throw error;
          }
          if (returned !== undefined && isThenable(returned)) {
            fold.abortEmit();
            throw asyncEmit(system);
          }
          fold.endEmit();
        } else fold.add(results[i] as SubsystemOutput, system);
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(system, actor, error);
        failed ??= [];
        failed.push(system);
        logger.warn("stats subsystem output rejected", { system, error: errorMessage(error) });
      }
    }
    return {
      values: fold.finish(),
      failed: failed?.sort(),
      outputs: NO_OUTPUTS,
      systems: NO_SYSTEMS,
    };
  };

  const computeFully = async (
    actor: Actor,
    registry: CompiledRegistry,
    selected: readonly RegisteredSubsystem[],
    precalled: ReturnType<typeof callAll> | undefined,
  ): Promise<Computed> => {
    let hasPost = false;
    for (const entry of selected) if (entry.postPrimary) hasPost = true;
    const first = hasPost ? selected.filter((entry) => !entry.postPrimary) : selected;
    const called = precalled ?? callAll(actor, first, EMPTY_INPUT);
    if (called.pending) await settle(actor, first, called);
    let failed: string[] | undefined;
    const entries = first.map((entry, i) => {
      const isFailed = called.failures?.[i] !== undefined;
      if (isFailed) {
        failed ??= [];
        failed.push(entry.subsystem.id);
      }
      return {
        system: entry.subsystem.id,
        output: called.results[i],
        failed: isFailed,
        order: entry.order,
      };
    });
    let folded = foldOutputs(registry, actor, entries, failed);
    if (hasPost) {
      const post = selected.filter((entry) => entry.postPrimary);
      const primary = folded.values.primary;
      const postCalled = callAll(actor, post, { primary });
      if (postCalled.pending) await settle(actor, post, postCalled);
      failed = folded.failed;
      post.forEach((entry, i) => {
        const system = entry.subsystem.id;
        let isFailed = postCalled.failures?.[i] !== undefined;
        if (!isFailed) {
          // A post_primary subsystem saw the final primary values, so it may not change them.
          const problem = checkPostPrimary(postCalled.results[i], primary, system);
          if (problem !== undefined) {
            if (failurePolicy === "fail_fast") throw problem;
            isFailed = true;
          }
        }
        if (isFailed) {
          failed ??= [];
          failed.push(system);
        }
        entries.push({
          system,
          output: postCalled.results[i],
          failed: isFailed,
          order: entry.order,
        });
      });
      entries.sort((a, b) => a.order - b.order);
      folded = foldOutputs(registry, actor, entries, failed);
    }
    const failedSorted = folded.failed?.sort();
    return {
      values: folded.values,
      failed: failedSorted,
      outputs: entries
        .filter((entry) => !entry.failed && !failedSorted?.includes(entry.system))
        .map((entry) => entry.output as SubsystemOutput),
      systems: entries.map((entry) => entry.system),
    };
  };

  const toSnapshot = (actor: Actor, epoch: number, computed: Computed): Snapshot => {
    const values = computed.values;
    // Plain literals in the common case: object spread here cost a measurable share of a resolve.
    const base = {
      actor_id: actor.id,
      version: actor.version,
      epoch,
      created_at: clock.now(),
      primary: values.primary,
      derived: values.derived,
      caps_used: values.caps_used,
    };
    if (values.context === undefined && computed.failed === undefined) return base;
    return withExtras(base, values, computed.failed);
  };

  const readTiers = async (actor: Actor, current: EngineState): Promise<Snapshot | undefined> => {
    for (let index = 0; index < tiers.length; index++) {
      const tier = tiers[index] as (typeof tiers)[number];
      let found: Snapshot | undefined;
      try {
        const entry = await tier.store.get(`${tier.keyPrefix}${actor.id}`);
        if (entry !== undefined) {
          found = decodeStoredSnapshot(entry.value, current.fingerprint, actor.version);
        }
      } catch (error) {
        errors.inc(1, { reason: "cache_tier" });
        logger.warn("stats cache tier read failed", {
          tier: tier.name,
          error: errorMessage(error),
        });
      }
      if (found === undefined) {
        cacheMisses.inc(1, tier.labels);
        continue;
      }
      cacheHits.inc(1, tier.labels);
      // The epoch is per process; the fingerprint already proved the registries match.
      const snapshot: Snapshot = { ...found, epoch: current.epoch };
      await writeTiers(snapshot, current, index);
      return snapshot;
    }
    return undefined;
  };

  const writeTiers = async (snapshot: Snapshot, current: EngineState, upTo: number) => {
    if (upTo === 0) return;
    const bytes = encodeStoredSnapshot(snapshot, current.fingerprint);
    await Promise.all(
      tiers.slice(0, upTo).map(async (tier) => {
        try {
          await tier.store.commit([
            { type: "set", key: `${tier.keyPrefix}${snapshot.actor_id}`, value: bytes },
          ]);
        } catch (error) {
          errors.inc(1, { reason: "cache_tier" });
          logger.warn("stats cache tier write failed", {
            tier: tier.name,
            error: errorMessage(error),
          });
        }
      }),
    );
  };

  const remember = (snapshot: Snapshot, now?: number) => {
    if (l1 === undefined) return;
    l1.set(snapshot, now);
    activeActors.set(l1.size);
  };

  /** The general resolve loop (L1, tiers, compute, reload races), without metrics. */
  const resolveLoop = async (actor: Actor): Promise<Snapshot> => {
    validateActor(actor);
    for (let attempt = 0; ; attempt++) {
      const current = state;
      if (l1 !== undefined) {
        const hit = l1.get(actor.id, actor.version, current.epoch);
        if (hit !== undefined) {
          cacheHits.inc(1, L1_LABELS);
          return hit;
        }
        cacheMisses.inc(1, L1_LABELS);
      }
      if (tiers.length > 0) {
        const fromTier = await readTiers(actor, current);
        if (fromTier !== undefined && state === current) {
          remember(fromTier);
          return fromTier;
        }
      }
      let computed = compute(actor, current.registry, false);
      if (isPromise(computed)) computed = await computed;
      // A reload during an async subsystem call: recompute so a stale snapshot is never served.
      if (state !== current && attempt < 3) continue;
      const snapshot = toSnapshot(actor, current.epoch, computed);
      // Degraded snapshots are not cached: the failure may be transient.
      if (computed.failed === undefined && state === current) {
        remember(snapshot);
        if (tiers.length > 0) await writeTiers(snapshot, current, tiers.length);
      }
      return snapshot;
    }
  };

  const observe = (started: number) => {
    if (timed) duration.observe((performance.now() - started) / 1000);
  };

  const counted = async (work: Promise<Snapshot>, started: number): Promise<Snapshot> => {
    try {
      return await work;
    } catch (error) {
      errors.inc(1, { reason: "resolve" });
      throw error;
    } finally {
      observe(started);
    }
  };

  const finishPending = async (
    actor: Actor,
    current: EngineState,
    pending: Promise<Computed>,
  ): Promise<Snapshot> => {
    const computed = await pending;
    if (state !== current) return resolveLoop(actor);
    const snapshot = toSnapshot(actor, current.epoch, computed);
    if (computed.failed === undefined) remember(snapshot);
    return snapshot;
  };

  /**
   * Resolves synchronously when it can (an L1 hit, or synchronous subsystems and no store tiers)
   * and hands everything else to {@link resolveLoop}. A promise per actor costs as much as a
   * fold of a few dimensions, and `resolveBatch` of synchronous subsystems needs none.
   */
  const resolveNow = (actor: Actor): Snapshot | Promise<Snapshot> => {
    requests.inc();
    const started = timed ? performance.now() : 0;
    if (tiers.length > 0) return counted(resolveLoop(actor), started);
    try {
      validateActor(actor);
      const current = state;
      if (l1 !== undefined) {
        const hit = l1.get(actor.id, actor.version, current.epoch);
        if (hit !== undefined) {
          cacheHits.inc(1, L1_LABELS);
          observe(started);
          return hit;
        }
        cacheMisses.inc(1, L1_LABELS);
      }
      const computed = compute(actor, current.registry, false);
      if (isPromise(computed)) return counted(finishPending(actor, current, computed), started);
      // A subsystem that reloaded the registries from inside `contribute`: take the slow path.
      if (state !== current) return counted(resolveLoop(actor), started);
      const snapshot = toSnapshot(actor, current.epoch, computed);
      // created_at was read from the clock just now: the L1 TTL starts from it.
      if (computed.failed === undefined) remember(snapshot, snapshot.created_at);
      observe(started);
      return snapshot;
    } catch (error) {
      errors.inc(1, { reason: "resolve" });
      observe(started);
      throw error;
    }
  };

  const resolveSync = (actor: Actor): Snapshot => {
    if (tiers.length > 0) {
      throw invalidArgument(
        "resolveSync",
        "store tiers are configured (L2/L3 reads are asynchronous); use resolve",
      );
    }
    const result = resolveNow(actor);
    if (!isPromise(result)) return result;
    // Its failure is this call's error below; the promise itself must not go unhandled.
    result.catch(() => {});
    throw invalidArgument(
      "resolveSync",
      `actor ${JSON.stringify(actor.id)} needs asynchronous work (a subsystem returned a promise); use resolve`,
    );
  };

  const resolve = (actor: Actor): Promise<Snapshot> => {
    try {
      const result = resolveNow(actor);
      return isPromise(result) ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  // What the batch workers need, per epoch: the registries serialised once, the subsystem set.
  let chunkState: EngineState | undefined;
  let chunkHeader: ReturnType<BatchHost["header"]> | undefined;
  const batchHost: BatchHost = {
    cached(actor) {
      requests.inc();
      validateActor(actor);
      if (l1 === undefined) return undefined;
      const hit = l1.get(actor.id, actor.version, state.epoch);
      if (hit === undefined) cacheMisses.inc(1, L1_LABELS);
      else cacheHits.inc(1, L1_LABELS);
      return hit;
    },
    header() {
      if (chunkState !== state || chunkHeader === undefined) {
        const current = state;
        chunkHeader = {
          token: current,
          registryKey: `${current.epoch}:${current.fingerprint}`,
          // A copy of its own: a Buffer may share a larger pool, which a clone would copy whole.
          registry: new Uint8Array(
            serialize({
              combiner: current.registry.combiner,
              layers: current.registry.layers,
              ...compileOptions,
            }),
          ),
          signature: subsystemSignature(subsystems.list()),
          failurePolicy,
        };
        chunkState = current;
      }
      return chunkHeader;
    },
    isCurrent: (token) => token === state,
    defaultBounds: (name) => state.registry.dimension(name)?.defaultBounds,
    accept(actor, values, failed, token) {
      const current = token as EngineState;
      const snapshot = toSnapshot(actor, current.epoch, {
        values,
        failed: failed === undefined ? undefined : [...failed],
        outputs: NO_OUTPUTS,
        systems: NO_SYSTEMS,
      });
      if (failed === undefined) remember(snapshot, snapshot.created_at);
      return snapshot;
    },
    resolveHere: (actor) => resolveNow(actor),
  };

  return {
    get epoch() {
      return state.epoch;
    },
    get registry() {
      return state.registry;
    },
    subsystems,
    resolve,
    resolveSync,
    async resolveBatch(actors) {
      if (!Array.isArray(actors)) throw invalidArgument("actors", "expected an array of actors");
      if (pool !== undefined && tiers.length === 0 && actors.length >= pool.minBatch) {
        return pool.resolve(actors, batchHost);
      }
      const results: BatchResult[] = new Array(actors.length);
      const failure = (actorId: string, error: unknown): BatchResult => ({
        actorId,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      let pending: Promise<void>[] | undefined;
      for (let i = 0; i < actors.length; i++) {
        const actor = actors[i] as Actor;
        const actorId = (actor as Partial<Actor> | null)?.id as string;
        try {
          const result = resolveNow(actor);
          if (isPromise(result)) {
            pending ??= [];
            pending.push(
              result.then(
                (snapshot) => {
                  results[i] = { actorId, snapshot };
                },
                (error: unknown) => {
                  results[i] = failure(actorId, error);
                },
              ),
            );
          } else {
            results[i] = { actorId, snapshot: result };
          }
        } catch (error) {
          results[i] = failure(actorId, error);
        }
      }
      if (pending !== undefined) await Promise.all(pending);
      return results;
    },
    getCachedSnapshot(actorId, version) {
      if (l1 === undefined) return undefined;
      const hit = l1.get(actorId, version, state.epoch);
      if (hit === undefined) cacheMisses.inc(1, L1_LABELS);
      else cacheHits.inc(1, L1_LABELS);
      return hit;
    },
    async invalidate(actorId) {
      if (typeof actorId !== "string" || actorId === "") {
        throw invalidArgument("actorId", "expected a non-empty string");
      }
      if (l1 !== undefined) {
        l1.delete(actorId);
        activeActors.set(l1.size);
      }
      await Promise.all(
        tiers.map((tier) =>
          tier.store.commit([{ type: "delete", key: `${tier.keyPrefix}${actorId}` }]),
        ),
      );
    },
    async explain(actor, dimension) {
      validateActor(actor);
      if (typeof dimension !== "string") {
        throw invalidArgument(
          "dimension",
          `expected a dimension name, got ${describeValue(dimension)}`,
        );
      }
      const current = state;
      if (current.registry.dimension(dimension) === undefined) {
        throw statsInputError(
          { dimension, field: "dimension" },
          current.registry.strict && /^[a-z][a-z0-9_]*$/.test(dimension)
            ? "unknown dimension (the combiner registry is strict)"
            : "expected a dimension name matching ^[a-z][a-z0-9_]*$",
        );
      }
      const computed = await compute(actor, current.registry, true);
      return {
        actorId: actor.id,
        version: actor.version,
        epoch: current.epoch,
        ...(computed.failed === undefined ? {} : { failedSystems: computed.failed }),
        ...explainOutputs(current.registry, computed.outputs, dimension),
      };
    },
    reload(update) {
      if (typeof update !== "object" || update === null) {
        throw invalidArgument("update", "expected { combiner?, layers? }");
      }
      const registry = compileRegistry(
        update.combiner ?? state.registry.combiner,
        update.layers ?? state.registry.layers,
        compileOptions,
      );
      return startEpoch(registry, "registry");
    },
    onReload(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    cacheStats() {
      return l1?.stats() ?? { hits: 0, misses: 0, evictions: 0, expirations: 0, entries: 0 };
    },
    async close() {
      await pool?.close();
    },
  };
}

/** A post_primary output may not add primary contributions or cap a primary dimension. */
function checkPostPrimary(
  output: unknown,
  primary: Readonly<Record<string, number>>,
  system: string,
): TroupeError | undefined {
  if (typeof output !== "object" || output === null) return undefined;
  const { primary: contributions, caps } = output as Partial<SubsystemOutput>;
  if (Array.isArray(contributions) && contributions.length > 0) {
    return statsInputError(
      { system, field: "primary" },
      "a post_primary subsystem receives the final primary values and may not contribute to them",
    );
  }
  if (!Array.isArray(caps)) return undefined;
  for (let i = 0; i < caps.length; i++) {
    const dimension = (caps[i] as { dimension?: unknown } | null)?.dimension;
    if (typeof dimension === "string" && Object.hasOwn(primary, dimension)) {
      return statsInputError(
        { system, dimension, field: `caps[${i}].dimension` },
        "a post_primary subsystem may not cap a primary dimension it has already seen",
      );
    }
  }
  return undefined;
}
