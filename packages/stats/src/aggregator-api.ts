import type { Clock, Logger, Metrics } from "@troupe/core";
import type { StatsWorkerOptions } from "./batch-pool.js";
import type { L1Stats, SnapshotTier } from "./cache.js";
import type { CompactBatch, CompactBatchOptions } from "./compact-batch.js";
import type { Explanation } from "./explain.js";
import type { CompiledRegistry } from "./registry.js";
import type { Subsystem, SubsystemRegistry } from "./subsystems.js";
import type { Actor, CombinerRegistry, LayerRegistry, MergeRule, Snapshot } from "./types.js";

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
  /**
   * Resolves many actors into one {@link CompactBatch} (read by index; snapshots made on read),
   * the same values as {@link resolveBatch} bit for bit. On worker threads (`workers`, at least
   * `minBatch` actors, no store tiers) the calling thread keeps the workers' packed chunks as they
   * arrive and makes no object per actor: L1 is read for hits, and written only with `cache: true`.
   * Otherwise the actors resolve as `resolveBatch` resolves them (cached as it caches them).
   */
  resolveBatchCompact(
    actors: readonly Actor[],
    options?: CompactBatchOptions,
  ): Promise<CompactBatch>;
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
