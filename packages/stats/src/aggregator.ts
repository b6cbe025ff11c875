import { createHash } from "node:crypto";
import { serialize } from "node:v8";
import { invalidArgument, noopLogger, noopMetrics, systemClock } from "@troupe/core";
import { errorMessage, isPromise, validateActor, withExtras } from "./actor-checks.js";
import type {
  BatchResult,
  ReloadEvent,
  StatsAggregator,
  StatsAggregatorOptions,
} from "./aggregator-api.js";
import { createAggregatorMetrics } from "./aggregator-metrics.js";
import { type BatchHost, BatchPool } from "./batch-pool.js";
import { subsystemSignature } from "./batch-protocol.js";
import { SnapshotLru } from "./cache.js";
import { CompactBatch } from "./compact-batch.js";
import { describeValue, statsInputError } from "./errors.js";
import { explainOutputs } from "./explain.js";
import { PooledSnapshot } from "./pooled-snapshot.js";
import {
  type CompiledRegistry,
  type CompileRegistryOptions,
  canonicalJson,
  compileRegistry,
} from "./registry.js";
import { createSnapshotTiers } from "./snapshot-tiers.js";
import {
  type Computed,
  createSubsystemRunner,
  NO_OUTPUTS,
  NO_SYSTEMS,
} from "./subsystem-runner.js";
import { createSubsystemRegistry } from "./subsystems.js";
import type { Actor, Snapshot } from "./types.js";

export type {
  ActorExplanation,
  BatchResult,
  FailurePolicy,
  RegistryUpdate,
  ReloadEvent,
  StatsAggregator,
  StatsAggregatorOptions,
  StatsCacheOptions,
} from "./aggregator-api.js";

const L1_LABELS = Object.freeze({ tier: "l1" });

interface EngineState {
  readonly registry: CompiledRegistry;
  readonly epoch: number;
  readonly fingerprint: string;
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
  const { requests, duration, cacheHits, cacheMisses, errors, activeActors } =
    createAggregatorMetrics(metrics);
  const tiers = createSnapshotTiers(options.cache?.tiers ?? [], {
    cacheHits,
    cacheMisses,
    errors,
    logger,
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

  const runner = createSubsystemRunner({
    subsystems,
    failurePolicy,
    logger,
    selectionToken: () => state,
  });
  const compute = runner.compute;

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
        const fromTier = await tiers.read(actor, current.fingerprint, current.epoch);
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
        if (tiers.length > 0) await tiers.write(snapshot, current.fingerprint, tiers.length);
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
    epochOf: (token) => (token as EngineState).epoch,
    now: () => clock.now(),
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
    acceptPooled(actor, chunk, k, failed, token) {
      const current = token as EngineState;
      const snapshot = new PooledSnapshot(
        actor.id,
        actor.version,
        current.epoch,
        clock.now(),
        chunk,
        k,
        failed === undefined ? undefined : [...failed],
      ) as unknown as Snapshot;
      if (failed === undefined) remember(snapshot, snapshot.created_at);
      return snapshot;
    },
    resolveHere: (actor) => resolveNow(actor),
  };

  /** `resolveBatch` on the calling thread: one resolve per actor, the promises only where needed. */
  const resolveBatchHere = async (actors: readonly Actor[]): Promise<BatchResult[]> => {
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
      return resolveBatchHere(actors);
    },
    async resolveBatchCompact(actors, batchOptions = {}) {
      if (!Array.isArray(actors)) throw invalidArgument("actors", "expected an array of actors");
      if (typeof batchOptions !== "object" || batchOptions === null) {
        throw invalidArgument("options", "expected { cache? }");
      }
      if (batchOptions.cache !== undefined && typeof batchOptions.cache !== "boolean") {
        throw invalidArgument(
          "options.cache",
          `expected a boolean, got ${describeValue(batchOptions.cache)}`,
        );
      }
      if (pool !== undefined && tiers.length === 0 && actors.length >= pool.minBatch) {
        return pool.resolveCompact(actors, batchHost, batchOptions);
      }
      // On the calling thread the snapshots are made (and cached) as `resolveBatch` makes them.
      const results = await resolveBatchHere(actors);
      const batch = new CompactBatch(actors.length, batchHost.defaultBounds);
      for (let i = 0; i < results.length; i++) batch.hold(i, results[i] as BatchResult);
      return batch;
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
      await tiers.delete(actorId);
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
