// The worker side of `resolveBatch` on worker threads: each worker imports the subsystems module
// once, keeps an aggregator (no cache) per registry, and resolves the chunks of actors it is sent.
// Only data crosses threads: actors in, values (or errors) out, left in the chunk's mailbox when
// it has one (see batch-mailbox.ts) or posted; the calling thread builds the snapshots and caches
// them.
import { deserialize } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { TroupeError } from "@troupe/core";
import { createStatsAggregator, type StatsAggregator } from "./aggregator.js";
import { mailboxNeeds, mailboxSpace, sealMailbox } from "./batch-mailbox.js";
import {
  type BatchWorkerData,
  type ChunkAnswer,
  type ChunkRequest,
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

/** Resolves one chunk of actors into its outcomes, packed as `encodeOutcomes` does. */
export async function resolveChunk(
  chunk: WorkerChunk,
  mailbox?: SharedArrayBuffer,
): Promise<WorkerChunkResult> {
  const aggregator = await aggregatorFor(chunk);
  const signature = subsystemSignature(aggregator.subsystems.list());
  if (signature !== chunk.signature) return { mismatch: signature };
  const results = await aggregator.resolveBatch(chunk.actors);
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
  const space = mailbox === undefined ? undefined : mailboxSpace(mailbox);
  return { outcomes: encodeOutcomes(outcomes, chunk.shared === true, space) };
}

/**
 * Answers one request: undefined when the answer was left in its mailbox, otherwise the message
 * to post and the buffers it moves. Shared memory crosses by reference; otherwise the packed
 * values move to the calling thread (their buffers are transferred, not copied).
 */
export async function answerChunk(
  request: ChunkRequest,
): Promise<{ answer: ChunkAnswer; transfer: ArrayBuffer[] } | undefined> {
  const { id, chunk, mailbox } = request;
  const result = await resolveChunk(chunk, mailbox);
  const encoded = result.outcomes;
  if (encoded === undefined) return { answer: { id, result }, transfer: [] };
  if (chunk.shared !== true) {
    return {
      answer: { id, result },
      transfer: [encoded.values.buffer as ArrayBuffer, encoded.layout.buffer as ArrayBuffer],
    };
  }
  // What a mailbox must hold for this answer: the calling thread sizes the next ones by it.
  const needs = mailboxNeeds(encoded);
  if (mailbox !== undefined && sealMailbox(mailbox, encoded, needs)) return undefined;
  return { answer: { id, result, bytes: needs.bytes }, transfer: [] };
}

// Started as a batch worker (see batch-threads.ts): answer the calling thread's chunks.
const started = workerData as BatchWorkerData | undefined;
if (parentPort !== null && started?.troupeStatsBatch === true) {
  const port = parentPort;
  // The calling thread has a core first when this worker competes with it for one.
  lowerThreadPriority(started.nice);
  port.on("message", (request: ChunkRequest) => {
    answerChunk(request).then(
      (reply) => {
        if (reply !== undefined) port.postMessage(reply.answer, reply.transfer);
      },
      (error: unknown) => {
        try {
          port.postMessage({ id: request.id, error } satisfies ChunkAnswer);
        } catch {
          // An error that cannot be cloned: its text.
          port.postMessage({
            id: request.id,
            error: new Error(String(error)),
          } satisfies ChunkAnswer);
        }
      },
    );
  });
}
