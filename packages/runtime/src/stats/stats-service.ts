import {
  type Clock,
  type Logger,
  type Metrics,
  type PubSub,
  type Store,
  TroupeError,
} from "@troupe/core";
import {
  type Actor,
  type ActorExplanation,
  createStatsAggregator,
  type Snapshot,
  type StatsAggregator,
  type Subsystem,
  type SubsystemOutput,
} from "@troupe/stats";
import type { ActorOutputs, OutputChange } from "./actor-outputs.js";
import { type ActorRecord, createActorRecords } from "./actor-records.js";
import {
  type ActorChange,
  type InvalidationChannel,
  NewestVersions,
  openInvalidationChannel,
} from "./invalidation.js";
import { loadRegistryFiles, watchRegistryFiles } from "./registry-files.js";
import type { StatsServiceConfig } from "./stats-config.js";

/** Options of {@link createStatsService}. */
export interface StatsServiceOptions {
  /** The validated `stats` config section. */
  readonly config: StatsServiceConfig;
  /** Where actor outputs (and L2 snapshots) live. */
  readonly store: Store;
  /** Where invalidations travel between runtime processes. */
  readonly pubsub: PubSub;
  /** Where the `actor_core_*` metrics go. */
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** Where the registry stands: its epoch and the last refused reload, if any. */
export interface RegistryStatus {
  readonly epoch: number;
  readonly fingerprint: string;
  /** Why the last reload was refused (file and field named); cleared by a successful reload. */
  readonly lastError: string | undefined;
}

/** One write of a batch: an output to store, or `null` to remove the subsystem's output. */
export interface OutputWrite {
  readonly actorId: string;
  readonly system: string;
  readonly output: SubsystemOutput | null;
}

/** One entry of a batch read. */
export type SnapshotResult =
  | { readonly actorId: string; readonly snapshot: Snapshot }
  | {
      readonly actorId: string;
      readonly error: { readonly code: string; readonly message: string };
    };

/** An actor that holds outputs, as listed. */
export interface ActorSummary {
  readonly actorId: string;
  readonly version: number;
  readonly systems: readonly string[];
}

/** Per-actor stat snapshots over the runtime's Store, cached in L1 (memory) and L2 (Store). */
export interface StatsService {
  /** Loads the registry files, starts watching them and joins the invalidation channel. */
  start(): Promise<void>;
  /** The snapshot of `actorId` (L1, then L2, then computed); NOT_FOUND when it holds no outputs. */
  snapshot(actorId: string): Promise<Snapshot>;
  /**
   * The L1 snapshot of `actorId` when no newer write is known, without reading the Store; else
   * (a miss, an unknown actor, a service not started) undefined.
   */
  cachedSnapshot(actorId: string): Snapshot | undefined;
  /** Snapshots of many actors, in order; one failure does not stop the others. */
  snapshots(actorIds: readonly string[]): Promise<SnapshotResult[]>;
  /** Applies writes (grouped per actor, each actor atomically); returns the new versions. */
  write(writes: readonly OutputWrite[]): Promise<ActorChange[]>;
  /** Why `dimension` of `actorId` has its value. */
  explain(actorId: string, dimension: string): Promise<ActorExplanation>;
  /** Actors holding outputs, in id order after `after`. */
  list(limit: number, after?: string): Promise<ActorSummary[]>;
  /** Reads the registry files again; a bad file is refused and the registry in use kept. */
  reload(): Promise<RegistryStatus>;
  /** The registry's epoch and last refusal. */
  registryStatus(): RegistryStatus;
  /** The configured subsystem ids. */
  readonly systems: ReadonlySet<string>;
  /** The stat engine (for embedding and tests). */
  readonly aggregator: StatsAggregator | undefined;
  /** Stops watching and leaves the invalidation channel. Idempotent. */
  close(): Promise<void>;
}

function notFound(actorId: string): TroupeError {
  return new TroupeError("NOT_FOUND", `actor ${JSON.stringify(actorId)} holds no stat outputs`);
}

/** Composes the stat engine, the actor records, the registry watch and the invalidations. */
export function createStatsService(options: StatsServiceOptions): StatsService {
  const { config, metrics, logger } = options;
  const records = createActorRecords(options.store);
  const systems = new Set(config.systems.map((system) => system.id));
  const newest = new NewestVersions(config.cache.maxEntries * 4);
  const invalidations = metrics.counter("actor_core_invalidations_total", {
    help: "Snapshots made stale by an output write, by where the write happened.",
  });
  const reloads = metrics.counter("actor_core_registry_reloads_total", {
    help: "Registry file reloads, applied or refused.",
  });
  const epochGauge = metrics.gauge("actor_core_registry_epoch", {
    help: "The registry epoch in use.",
  });
  const subsystems: Subsystem[] = config.systems.map((system) => ({
    id: system.id,
    priority: system.priority,
    contribute: (actor: Actor) =>
      (actor.data.outputs as ActorOutputs)[system.id] as SubsystemOutput,
  }));
  let aggregator: StatsAggregator | undefined;
  let lastError: string | undefined;
  let stopWatching: (() => void) | undefined;
  let channel: InvalidationChannel | undefined;
  let closed = false;

  const engine = (): StatsAggregator => {
    if (aggregator === undefined) {
      throw new TroupeError("UNAVAILABLE", "the stats service has not started");
    }
    return aggregator;
  };

  const toActor = (record: ActorRecord): Actor => ({
    id: record.actorId,
    name: record.actorId,
    race: "",
    lifespan: 0,
    age: 0,
    created_at: 0,
    updated_at: 0,
    version: record.version,
    // Outputs of a subsystem no longer configured are kept in the Store but left out.
    subsystems: Object.keys(record.outputs).filter((system) => systems.has(system)),
    data: { outputs: record.outputs },
  });

  /** The L1 snapshot when no newer write is known, else undefined. */
  const cached = (engineNow: StatsAggregator, actorId: string): Snapshot | undefined =>
    engineNow.getCachedSnapshot(actorId, newest.get(actorId));

  const status = (): RegistryStatus => ({
    epoch: aggregator?.epoch ?? 0,
    fingerprint: aggregator?.registry.fingerprint ?? "",
    lastError,
  });

  const reload = async (): Promise<RegistryStatus> => {
    try {
      const loaded = await loadRegistryFiles(config);
      const current = engine();
      current.reload({
        combiner: loaded.combiner,
        ...(loaded.layers === undefined ? {} : { layers: loaded.layers }),
      });
      lastError = undefined;
      reloads.inc(1, { result: "applied" });
      epochGauge.set(current.epoch);
      logger.info("stats registry reloaded", { epoch: current.epoch });
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      reloads.inc(1, { result: "refused" });
      logger.warn("stats registry reload refused; the registry in use is kept", {
        error: lastError,
      });
    }
    return status();
  };

  const onRemote = (changes: ActorChange[]) => {
    for (const change of changes) {
      if (newest.note(change)) invalidations.inc(1, { source: "remote" });
    }
  };

  return {
    systems,
    get aggregator() {
      return aggregator;
    },
    async start() {
      if (aggregator !== undefined) return;
      const loaded = await loadRegistryFiles(config);
      aggregator = createStatsAggregator({
        combiner: loaded.combiner,
        ...(loaded.layers === undefined ? {} : { layers: loaded.layers }),
        subsystems,
        clock: options.clock,
        metrics,
        logger,
        cache: {
          maxEntries: config.cache.maxEntries,
          ttlMs: config.cache.ttlMs,
          tiers: config.cache.store
            ? [{ store: options.store, name: "l2", keyPrefix: "stats/snapshot/" }]
            : [],
        },
      });
      epochGauge.set(aggregator.epoch);
      channel = await openInvalidationChannel(options.pubsub, config.channel, onRemote, logger);
      if (config.watch) {
        stopWatching = watchRegistryFiles(config, () => {
          if (!closed) void reload();
        });
      }
    },
    cachedSnapshot(actorId) {
      return aggregator === undefined ? undefined : cached(aggregator, actorId);
    },
    async snapshot(actorId) {
      const current = engine();
      const hit = cached(current, actorId);
      if (hit !== undefined) return hit;
      const record = await records.read(actorId);
      if (record === undefined) throw notFound(actorId);
      newest.note(record);
      return current.resolve(toActor(record));
    },
    async snapshots(actorIds) {
      const current = engine();
      const results: SnapshotResult[] = new Array(actorIds.length);
      const missing: number[] = [];
      actorIds.forEach((actorId, index) => {
        const hit = cached(current, actorId);
        if (hit === undefined) missing.push(index);
        else results[index] = { actorId, snapshot: hit };
      });
      if (missing.length === 0) return results;
      const loaded = await records.readMany(missing.map((index) => actorIds[index] as string));
      const actors: Actor[] = [];
      const places: number[] = [];
      loaded.forEach((record, at) => {
        const index = missing[at] as number;
        if (record === undefined) {
          const error = notFound(actorIds[index] as string);
          results[index] = {
            actorId: actorIds[index] as string,
            error: { code: error.code, message: error.message },
          };
          return;
        }
        newest.note(record);
        actors.push(toActor(record));
        places.push(index);
      });
      const resolved = await current.resolveBatch(actors);
      resolved.forEach((result, at) => {
        const index = places[at] as number;
        results[index] =
          result.snapshot !== undefined
            ? { actorId: result.actorId, snapshot: result.snapshot }
            : {
                actorId: result.actorId,
                error: {
                  code: TroupeError.isInstance(result.error) ? result.error.code : "INTERNAL",
                  message: result.error.message,
                },
              };
      });
      return results;
    },
    async write(writes) {
      engine();
      const byActor = new Map<string, OutputChange[]>();
      for (const write of writes) {
        const changes = byActor.get(write.actorId) ?? [];
        changes.push(
          write.output === null
            ? { type: "delete", system: write.system }
            : { type: "put", system: write.system, output: write.output },
        );
        byActor.set(write.actorId, changes);
      }
      const changed = await Promise.all(
        [...byActor].map(async ([actorId, changes]) => {
          const record = await records.change(actorId, changes);
          newest.note(record);
          invalidations.inc(1, { source: "local" });
          return { actorId, version: record.version };
        }),
      );
      await channel?.publish(changed);
      return changed;
    },
    async explain(actorId, dimension) {
      const current = engine();
      const record = await records.read(actorId);
      if (record === undefined) throw notFound(actorId);
      return current.explain(toActor(record), dimension);
    },
    async list(limit, after) {
      const found = await records.list(limit, after);
      return found.map((record) => ({
        actorId: record.actorId,
        version: record.version,
        systems: Object.keys(record.outputs).sort(),
      }));
    },
    reload,
    registryStatus: status,
    async close() {
      if (closed) return;
      closed = true;
      stopWatching?.();
      await channel?.close();
      await aggregator?.close();
    },
  };
}
