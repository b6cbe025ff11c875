// The worker side of `resolveBatch` on worker threads: each worker imports the subsystems module
// once, keeps an aggregator (no cache) per registry, and resolves the chunks of actors it is sent.
// Only data crosses threads: actors in, values (or errors) out; the calling thread builds the
// snapshots and caches them.
import { deserialize } from "node:v8";
import { TroupeError } from "@troupe/core";
import { kTransferable, kValue, Tinypool } from "tinypool";
import { actorsOf } from "./actor-pack.js";
import { createStatsAggregator, type StatsAggregator } from "./aggregator.js";
import type { BatchWorkerData } from "./batch-pool.js";
import {
  encodeOutcomes,
  type Outcome,
  subsystemSignature,
  type WorkerChunk,
  type WorkerChunkResult,
} from "./batch-protocol.js";
import type { Subsystem } from "./subsystems.js";
import { lowerThreadPriority } from "./thread-priority.js";
import type { CombinerRegistry, LayerRegistry, MergeRule } from "./types.js";

interface RegistryData {
  readonly combiner: CombinerRegistry;
  readonly layers: LayerRegistry;
  readonly strict?: boolean;
  readonly defaultRule?: MergeRule;
}

// The calling thread has a core first when this worker competes with it for one.
lowerThreadPriority((Tinypool.workerData as BatchWorkerData | undefined)?.nice ?? 0);

const modules = new Map<string, Promise<readonly Subsystem[]>>();
let engine: { readonly key: string; readonly aggregator: StatsAggregator } | undefined;

/** The subsystems a module exports as `subsystems` (or as its default export). */
async function loadSubsystems(module: string): Promise<readonly Subsystem[]> {
  const loaded = (await import(module)) as { subsystems?: unknown; default?: unknown };
  let found = loaded.subsystems ?? loaded.default;
  if (typeof found === "function") found = await (found as () => unknown)();
  if (!Array.isArray(found)) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      `workers.module ${module}: expected a "subsystems" export (or a default export) holding an array of subsystems, or a function returning one`,
    );
  }
  return found as readonly Subsystem[];
}

async function aggregatorFor(chunk: WorkerChunk): Promise<StatsAggregator> {
  const key = `${chunk.module}\n${chunk.registryKey}`;
  if (engine?.key === key) return engine.aggregator;
  let subsystems = modules.get(chunk.module);
  if (subsystems === undefined) {
    subsystems = loadSubsystems(chunk.module);
    modules.set(chunk.module, subsystems);
  }
  const registry = deserialize(chunk.registry) as RegistryData;
  const aggregator = createStatsAggregator({
    combiner: registry.combiner,
    layers: registry.layers,
    ...(registry.strict === undefined ? {} : { strict: registry.strict }),
    ...(registry.defaultRule === undefined ? {} : { defaultRule: registry.defaultRule }),
    subsystems: await subsystems,
    failurePolicy: chunk.failurePolicy,
    cache: { maxEntries: 0 },
  });
  engine = { key, aggregator };
  return aggregator;
}

function outcomeOfError(error: Error): Outcome {
  const code = TroupeError.isInstance(error) ? error.code : undefined;
  const details = TroupeError.isInstance(error) ? error.details : undefined;
  return { error: { name: error.name, message: error.message, code, details } };
}

/** Resolves one chunk of actors (tinypool calls this default export in a worker). */
export default async function resolveChunk(chunk: WorkerChunk): Promise<WorkerChunkResult> {
  const aggregator = await aggregatorFor(chunk);
  const signature = subsystemSignature(aggregator.subsystems.list());
  if (signature !== chunk.signature) return { mismatch: signature };
  const results = await aggregator.resolveBatch(actorsOf(chunk.actors));
  const outcomes: Outcome[] = new Array(results.length);
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as (typeof results)[number];
    if (result.error !== undefined) outcomes[i] = outcomeOfError(result.error);
    else {
      const snapshot = result.snapshot;
      outcomes[i] =
        snapshot.failed_systems === undefined
          ? { values: snapshot }
          : { values: snapshot, failed: snapshot.failed_systems };
    }
  }
  const encoded = encodeOutcomes(outcomes, chunk.shared === true);
  const answer: WorkerChunkResult = { outcomes: encoded };
  // Shared memory crosses by reference; otherwise the packed values move to the calling thread
  // (their buffers are transferred, not copied).
  if (chunk.shared === true) return answer;
  return Tinypool.move({
    [kTransferable]: [encoded.values.buffer, encoded.layout.buffer],
    [kValue]: answer,
  }) as WorkerChunkResult;
}
