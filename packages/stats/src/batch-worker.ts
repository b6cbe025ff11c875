// The worker side of `resolveBatch` on worker threads: each worker imports the subsystems module
// once, keeps an aggregator (no cache) per registry, and resolves the chunks of actors it is sent.
// Only data crosses threads: actors in, values (or errors) out; the calling thread builds the
// snapshots and caches them.
import { deserialize } from "node:v8";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { TroupeError } from "@troupe/core";
import { actorsOf } from "./actor-pack.js";
import { createStatsAggregator, type StatsAggregator } from "./aggregator.js";
import { BATCH_THREAD, type BatchWorkerData } from "./batch-pool.js";
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

/** This module's own `workerData` when it runs as a batch thread; null when imported elsewhere. */
const started =
  !isMainThread && (workerData as BatchWorkerData | null)?.role === BATCH_THREAD
    ? (workerData as BatchWorkerData)
    : null;

// The calling thread has a core first when this worker competes with it for one.
lowerThreadPriority(started?.nice ?? 0);

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

function errorFields(thrown: unknown): NonNullable<WorkerChunkResult["failure"]> {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const code = TroupeError.isInstance(error) ? error.code : undefined;
  const details = TroupeError.isInstance(error) ? error.details : undefined;
  return { name: error.name, message: error.message, code, details };
}

function outcomeOfError(error: Error): Outcome {
  return { error: errorFields(error) };
}

/** Resolves one chunk of actors (the thread's message loop below calls it for each chunk). */
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
  return { outcomes: encodeOutcomes(outcomes, chunk.shared === true) };
}

/**
 * The buffers an answer moves to the calling thread instead of copying: its packed values, unless
 * they are in shared memory (which crosses by reference).
 */
export function transferListOf(answer: WorkerChunkResult): ArrayBuffer[] {
  const outcomes = answer.outcomes;
  if (outcomes === undefined || outcomes.values.buffer instanceof SharedArrayBuffer) return [];
  return [outcomes.values.buffer as ArrayBuffer, outcomes.layout.buffer as ArrayBuffer];
}

// The thread's message loop: chunks are resolved one at a time, in the order they came, so each
// answer goes to the oldest chunk the calling thread has in flight here. An error that stops a
// whole chunk is answered, not thrown: the thread goes on with the next one.
const port = started === null ? null : parentPort;
if (port !== null) {
  const queue: WorkerChunk[] = [];
  let running = false;
  const drain = async () => {
    running = true;
    while (queue.length > 0) {
      const chunk = queue.shift() as WorkerChunk;
      let answer: WorkerChunkResult;
      try {
        answer = await resolveChunk(chunk);
      } catch (error) {
        answer = { failure: errorFields(error) };
      }
      try {
        port.postMessage(answer, transferListOf(answer));
      } catch (error) {
        // An answer that does not clone (an error's details holding a function, say).
        port.postMessage({ failure: errorFields(error) } satisfies WorkerChunkResult);
      }
    }
    running = false;
  };
  port.on("message", (chunk: WorkerChunk) => {
    queue.push(chunk);
    if (!running) void drain();
  });
}
