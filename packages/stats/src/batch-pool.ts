// `resolveBatch` on worker threads: workers that import the subsystems module, fed chunks of actors
// a few at a time so the calling thread never does more than one chunk's work (L1 look-ups, one
// message, the snapshots of one answer) between two turns of its event loop.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseWith } from "@troupe/core";
import { z } from "zod";
import type { BatchResult } from "./aggregator-api.js";
import { type BatchHost, BatchRun, type BatchSink } from "./batch-run.js";
import { CompactSink, ResultsSink } from "./batch-sinks.js";
import { BatchThreads } from "./batch-threads.js";
import type { CompactBatch, CompactBatchOptions } from "./compact-batch.js";
import { SharedBytes } from "./shared-bytes.js";
import type { Actor } from "./types.js";

export type { BatchHost } from "./batch-run.js";

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
  /** Marks the thread as a batch thread: the worker module serves messages only there. */
  readonly role: typeof BATCH_THREAD;
  readonly nice: number;
}

/** The `role` of a batch thread's `workerData`. */
export const BATCH_THREAD = "@troupe/stats batch thread";

/** Chunks in flight per worker: the one it computes and the next, already posted to it. */
const CHUNKS_PER_WORKER = 2;

/**
 * The worker's entry: the built `.js` beside this module, or in the source tree (tests, benches)
 * the `.ts` file, loaded under the `source` condition after registering tsx (a development
 * dependency) in the worker. On Node 20, hooks preloaded with `--import` do not reach a worker
 * thread, so the thread's bootstrap imports a module that registers them (`preload`) before the
 * entry.
 */
function workerEntry(): { filename: string; execArgv: string[]; preload?: string } {
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
  return { filename, execArgv: ["--conditions=source"], preload };
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
  private pool: BatchThreads | undefined;
  /** Shared memory held by this pool's compact batches. */
  private readonly sharedBytes = new SharedBytes();
  /** The last batch run, finished or not: see {@link BatchRun} for why it is kept. */
  lastRun: object | undefined;

  constructor(options: StatsWorkerOptions) {
    const valid = parseWith(workerOptionsSchema, options, "workers");
    this.module = valid.module instanceof URL ? valid.module.href : toFileUrl(valid.module);
    this.threads = valid.threads ?? Math.max(1, availableParallelism() - 1);
    this.minBatch = valid.minBatch ?? 1000;
    this.lazy = valid.snapshots === "lazy";
    this.nice = valid.nice ?? 5;
  }

  /** The threads, made on first use (each starts when first posted to). */
  private started(): BatchThreads {
    if (this.pool === undefined) {
      const entry = workerEntry();
      this.pool = new BatchThreads({
        threads: this.threads,
        entry: entry.filename,
        execArgv: entry.execArgv,
        ...(entry.preload === undefined ? {} : { preload: entry.preload }),
        workerData: { role: BATCH_THREAD, nice: this.nice } satisfies BatchWorkerData,
      });
    }
    return this.pool;
  }

  /** Stops the workers; a later pooled batch starts new ones. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  /**
   * Resolves `actors` (one result each, in order) with the misses computed on the workers, each
   * snapshot made on the calling thread as its chunk arrives (and cached in L1).
   */
  resolve(actors: readonly Actor[], host: BatchHost): Promise<BatchResult[]> {
    return this.run(actors, host, new ResultsSink(actors, host, this.lazy));
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
    const budget = this.sharedBytes;
    const sink = new CompactSink(actors, host, options.cache === true, budget);
    return this.run(actors, host, sink).catch((error: unknown) => {
      budget.release(sink.charged);
      throw error;
    });
  }

  /** One batch on the threads; the run is kept once finished (see {@link BatchRun}). */
  private run<T>(actors: readonly Actor[], host: BatchHost, sink: BatchSink<T>): Promise<T> {
    const run = new BatchRun(
      actors,
      host,
      sink,
      this.started(),
      this.module,
      CHUNKS_PER_WORKER * this.threads,
    );
    this.lastRun = run;
    return run.run();
  }
}
