// `resolveBatch` on worker threads: a tinypool of workers that import the subsystems module, fed
// chunks of actors a few at a time so the calling thread never does more than one chunk's work
// (L1 look-ups, one message, the snapshots of one answer) between two turns of its event loop.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { invalidArgument, parseWith } from "@troupe/core";
import type { Tinypool } from "tinypool";
import { z } from "zod";
import { packActors } from "./actor-pack.js";
import type { BatchResult } from "./aggregator-api.js";
import {
  DecodedOutcomes,
  type EncodedOutcomes,
  errorOf,
  type WorkerChunk,
  type WorkerChunkResult,
} from "./batch-protocol.js";
import { CompactBatch, type CompactBatchOptions } from "./compact-batch.js";
import { SharedBytes } from "./shared-bytes.js";
import type { Actor, CapBounds, Snapshot, StatValues } from "./types.js";

/** Options of `resolveBatch` on worker threads (`workers` of `createStatsAggregator`). */
export interface StatsWorkerOptions {
  /**
   * The module every worker imports for its subsystems (a file URL or an absolute path): its
   * `subsystems` export (or its default export) is an array of subsystems, or a function
   * returning one (or a promise of one). It must hold the same subsystems (ids, priorities,
   * stages, versions) as the aggregator, or a pooled batch fails with `INVALID_ARGUMENT`.
   */
  readonly module: string | URL;
  /** Worker threads; default one per core less one (the event loop's), at least 1. */
  readonly threads?: number;
  /** Batches of fewer actors resolve on the calling thread; default 1,000. */
  readonly minBatch?: number;
  /**
   * The form of the snapshots computed on the workers. `"objects"` (default): plain objects, as
   * a resolve on the calling thread makes. `"lazy"`: {@link PooledSnapshot}s over their chunk's
   * packed values, whose maps are built when first read — far less for the calling thread's
   * collector to move while a large batch arrives; the same values and JSON, but the maps are
   * getters (spread and `Object.keys` do not see them).
   */
  readonly snapshots?: "objects" | "lazy";
  /**
   * How many nice steps below the calling thread the worker threads run (Linux, where nice is a
   * per-thread setting; ignored elsewhere), so that the event loop gets a core first when they
   * compete for one; default 5, 0 for the same priority.
   */
  readonly nice?: number;
}

/** What each batch worker is started with. */
export interface BatchWorkerData {
  readonly nice: number;
}

/** Actors per message to a worker: one answer's snapshots take the calling thread ~0.2 ms. */
export const CHUNK_SIZE = 128;

/** Chunks in flight per worker: the one it computes and the next, already posted to it. */
const CHUNKS_PER_WORKER = 2;

/** What the pool needs from the aggregator, per batch. */
export interface BatchHost {
  /** The L1 snapshot of `actor` (counted as a request), or undefined; throws for a bad actor. */
  cached(actor: Actor): Snapshot | undefined;
  /** The chunk fields of the current epoch (`token` identifies it). */
  header(): { readonly token: object } & Omit<WorkerChunk, "actors" | "module">;
  /** A dimension's shared default bounds under the current registry. */
  defaultBounds(name: string): CapBounds | undefined;
  /** Whether `token` is still the current epoch. */
  isCurrent(token: object): boolean;
  /** The snapshot of a worker's values under `token`'s epoch, cached unless degraded. */
  accept(
    actor: Actor,
    values: StatValues,
    failed: readonly string[] | undefined,
    token: object,
  ): Snapshot;
  /** The same, as a {@link PooledSnapshot} over its chunk (`snapshots: "lazy"`). */
  acceptPooled(
    actor: Actor,
    chunk: DecodedOutcomes,
    k: number,
    failed: readonly string[] | undefined,
    token: object,
  ): Snapshot;
  /** The epoch `token` stands for. */
  epochOf(token: object): number;
  /** The aggregator clock's time (a compact chunk's `created_at`). */
  now(): number;
  /** Resolves on the calling thread (an actor that cannot be cloned, or a reload mid-batch). */
  resolveHere(actor: Actor): Snapshot | Promise<Snapshot>;
}

/** Where a pooled batch puts its outcomes. */
interface BatchSink<T> {
  /** Actor `i`'s result, made on the calling thread (an L1 hit, a refused actor, a resolve here). */
  settle(i: number, result: BatchResult): void;
  /** Whether the next chunk's values should come back in shared memory (default no). */
  shared?(): boolean;
  /** A chunk the workers answered under `token`'s epoch, still the current one. */
  chunk(indexes: readonly number[], outcomes: EncodedOutcomes, token: object): void;
  /** The batch's result, once every actor is settled. */
  finish(): T;
}

function failure(actorId: string, error: unknown): BatchResult {
  return { actorId, error: error instanceof Error ? error : new Error(String(error)) };
}

/**
 * The worker's entry: the built `.js` beside this module, or in the source tree (tests, benches)
 * the `.ts` file, loaded under the `source` condition after registering tsx (a development
 * dependency) in the worker. On Node 20, hooks preloaded with `--import` do not reach a worker
 * thread, so the worker's preload registers them itself.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith(".ts");
  const filename = new URL(`./batch-worker.${fromSource ? "ts" : "js"}`, import.meta.url).href;
  if (!fromSource) return { filename, execArgv: [] };
  const manifestPath = createRequire(import.meta.url).resolve("tsx/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const api = pathToFileURL(
    join(
      dirname(manifestPath),
      (manifest.exports["./esm/api"] as { import: { default: string } }).import.default,
    ),
  ).href;
  const preload = `data:text/javascript,import{register}from${JSON.stringify(api)};register();`;
  return { filename, execArgv: ["--import", preload, "--conditions=source"] };
}

const workerOptionsSchema = z.strictObject({
  module: z.union([
    z.instanceof(URL),
    z
      .string()
      .refine(
        (text) => text.startsWith("file:") || isAbsolute(text),
        "expected a file URL or an absolute path",
      ),
  ]),
  threads: z.int().min(1).optional(),
  minBatch: z.int().min(0).optional(),
  snapshots: z.enum(["objects", "lazy"]).optional(),
  nice: z.int().min(0).max(19).optional(),
});

function toFileUrl(module: string): string {
  return module.startsWith("file:") ? module : pathToFileURL(module).href;
}

/** A lazily started pool of batch workers. */
export class BatchPool {
  readonly minBatch: number;
  private readonly lazy: boolean;
  private readonly module: string;
  private readonly threads: number;
  private readonly nice: number;
  private pool: Tinypool | undefined;
  /** Shared memory held by this pool's compact batches. */
  private readonly sharedBytes = new SharedBytes();

  constructor(options: StatsWorkerOptions) {
    const valid = parseWith(workerOptionsSchema, options, "workers");
    this.module = valid.module instanceof URL ? valid.module.href : toFileUrl(valid.module);
    this.threads = valid.threads ?? Math.max(1, availableParallelism() - 1);
    this.minBatch = valid.minBatch ?? 1000;
    this.lazy = valid.snapshots === "lazy";
    this.nice = valid.nice ?? 5;
  }

  /** The pool, started on first use (tinypool is loaded then: a CLI or a server without workers never loads it). */
  private async started(): Promise<Tinypool> {
    if (this.pool === undefined) {
      const { Tinypool: Pool } = await import("tinypool");
      if (this.pool !== undefined) return this.pool;
      const entry = workerEntry();
      this.pool = new Pool({
        filename: entry.filename,
        execArgv: entry.execArgv,
        minThreads: this.threads,
        maxThreads: this.threads,
        // Both of a worker's chunks in flight are posted to it: it finds the next one waiting
        // when it answers, instead of sleeping until the calling thread has read the answer.
        concurrentTasksPerWorker: CHUNKS_PER_WORKER,
        workerData: { nice: this.nice } satisfies BatchWorkerData,
      });
    }
    return this.pool;
  }

  /** Stops the workers; a later pooled batch starts new ones. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }

  /**
   * Resolves `actors` (one result each, in order) with the misses computed on the workers, each
   * snapshot made on the calling thread as its chunk arrives (and cached in L1).
   */
  async resolve(actors: readonly Actor[], host: BatchHost): Promise<BatchResult[]> {
    const lazy = this.lazy;
    const results: BatchResult[] = new Array(actors.length);
    return this.drive(actors, host, {
      settle(i, result) {
        results[i] = result;
      },
      chunk(indexes, outcomes, token) {
        const decoded = new DecodedOutcomes(outcomes, host.defaultBounds);
        for (let k = 0; k < indexes.length; k++) {
          const i = indexes[k] as number;
          const actor = actors[i] as Actor;
          const extras = outcomes.extras[k];
          if (extras?.error !== undefined) results[i] = failure(actor.id, errorOf(extras.error));
          else if (lazy) {
            results[i] = {
              actorId: actor.id,
              snapshot: host.acceptPooled(actor, decoded, k, extras?.failed, token),
            };
          } else {
            const values = decoded.values(k) as StatValues;
            results[i] = {
              actorId: actor.id,
              snapshot: host.accept(actor, values, extras?.failed, token),
            };
          }
        }
      },
      finish: () => results,
    });
  }

  /**
   * Resolves `actors` into one {@link CompactBatch}: each chunk the workers answer is kept as it
   * arrived (its typed arrays moved, not copied), with a few numbers per actor; no snapshot,
   * result object or L1 entry per actor unless `cache` asks for L1 entries.
   */
  async resolveCompact(
    actors: readonly Actor[],
    host: BatchHost,
    options: CompactBatchOptions,
  ): Promise<CompactBatch> {
    const batch = new CompactBatch(actors.length, host.defaultBounds);
    const cache = options.cache === true;
    const budget = this.sharedBytes;
    let charged = 0;
    const kept = this.drive(actors, host, {
      settle(i, result) {
        batch.hold(i, result);
      },
      shared: () => budget.available,
      chunk(indexes, outcomes, token) {
        if (outcomes.values.buffer instanceof SharedArrayBuffer) {
          const bytes = outcomes.values.byteLength + outcomes.layout.byteLength;
          charged += bytes;
          budget.charge(bytes);
        }
        const ids: string[] = new Array(indexes.length);
        const versions: number[] = new Array(indexes.length);
        for (let k = 0; k < indexes.length; k++) {
          const actor = actors[indexes[k] as number] as Actor;
          ids[k] = actor.id;
          versions[k] = actor.version;
        }
        const epoch = host.epochOf(token);
        const decoded = batch.addChunk(indexes, ids, versions, outcomes, epoch, host.now(), cache);
        if (decoded === undefined) return;
        for (let k = 0; k < indexes.length; k++) {
          const extras = outcomes.extras[k];
          if (extras?.error !== undefined) continue;
          const i = indexes[k] as number;
          const actor = actors[i] as Actor;
          const snapshot = host.acceptPooled(actor, decoded, k, extras?.failed, token);
          batch.hold(i, { actorId: actor.id, snapshot });
        }
      },
      finish: () => {
        budget.holdUntilCollected(batch, charged);
        return batch;
      },
    });
    return kept.catch((error: unknown) => {
      budget.release(charged);
      throw error;
    });
  }

  /**
   * Sends the misses of `actors` to the workers in chunks and hands every outcome to `sink`. At
   * most two chunks per worker are in flight, so a worker always has its next chunk queued and
   * the calling thread only ever handles one chunk per turn.
   */
  private async drive<T>(
    actors: readonly Actor[],
    host: BatchHost,
    sink: BatchSink<T>,
  ): Promise<T> {
    const pool = await this.started();
    const module = this.module;
    const slow: Promise<void>[] = [];
    const maxInFlight = CHUNKS_PER_WORKER * this.threads;
    let next = 0;
    let inFlight = 0;
    let settled = false;
    return new Promise<T>((resolveBatch, rejectBatch) => {
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        rejectBatch(error);
      };
      const here = (i: number) => {
        const actor = actors[i] as Actor;
        const actorId = (actor as Partial<Actor> | null)?.id as string;
        try {
          const result = host.resolveHere(actor);
          if (result instanceof Promise) {
            slow.push(
              result.then(
                (snapshot) => sink.settle(i, { actorId, snapshot }),
                (error: unknown) => sink.settle(i, failure(actorId, error)),
              ),
            );
          } else sink.settle(i, { actorId, snapshot: result });
        } catch (error) {
          sink.settle(i, failure(actorId, error));
        }
      };
      const answered = (
        indexes: number[],
        header: { readonly signature: string },
        token: object,
        answer: WorkerChunkResult,
      ) => {
        if (answer.mismatch !== undefined) {
          fail(
            invalidArgument(
              "workers.module",
              `${module} exports other subsystems (${answer.mismatch}) than the aggregator holds (${header.signature})`,
            ),
          );
          return;
        }
        // A reload overtook the chunk: every actor of it again, here, under the new epoch.
        if (!host.isCurrent(token)) for (const i of indexes) here(i);
        else sink.chunk(indexes, answer.outcomes as EncodedOutcomes, token);
      };
      const pump = (): void => {
        if (settled) return;
        // Chunks of L1 hits send nothing: bound them too, then come back on the next turn.
        let windows = 0;
        while (inFlight < maxInFlight && next < actors.length) {
          if (windows++ === maxInFlight) {
            setImmediate(pump);
            return;
          }
          const end = Math.min(actors.length, next + CHUNK_SIZE);
          const indexes: number[] = [];
          const misses: Actor[] = [];
          for (let i = next; i < end; i++) {
            const actor = actors[i] as Actor;
            try {
              const hit = host.cached(actor);
              if (hit !== undefined) sink.settle(i, { actorId: actor.id, snapshot: hit });
              else {
                indexes.push(i);
                misses.push(actor);
              }
            } catch (error) {
              sink.settle(i, failure((actor as Partial<Actor> | null)?.id as string, error));
            }
          }
          next = end;
          if (misses.length === 0) continue;
          const { token, ...header } = host.header();
          const chunk: WorkerChunk = {
            ...header,
            module,
            // As columns: a structured clone of 128 actor objects was half this turn's work.
            actors: packActors(misses) ?? misses,
            ...(sink.shared?.() === true ? { shared: true } : {}),
          };
          inFlight++;
          pool.run(chunk).then(
            (answer: WorkerChunkResult) => {
              inFlight--;
              if (settled) return;
              try {
                answered(indexes, header, token, answer);
              } catch (error) {
                fail(error);
              }
              pump();
            },
            (error: unknown) => {
              inFlight--;
              if (settled) return;
              // An actor that cannot be cloned (a function in its data) resolves here instead.
              if ((error as { name?: unknown } | null)?.name === "DataCloneError") {
                for (const i of indexes) here(i);
                pump();
                return;
              }
              fail(error);
            },
          );
        }
        if (next >= actors.length && inFlight === 0) {
          settled = true;
          Promise.all(slow).then(() => resolveBatch(sink.finish()), rejectBatch);
        }
      };
      pump();
    });
  }
}
