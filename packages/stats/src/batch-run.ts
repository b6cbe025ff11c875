// One pooled batch in flight: its misses sent to the worker threads in chunks, at most two per
// thread at a time, and every answer handed to the batch's sink. An object with methods, not
// closures made per batch: V8 keeps a function's optimized code only while a closure of it lives,
// so closures made per batch lose theirs at a full collection between two batches and are compiled
// again while the next batch runs, on the helper threads that the calling thread then waits behind
// for a core.
import { invalidArgument } from "@troupe/core";
import { packActors } from "./actor-pack.js";
import type { BatchResult } from "./aggregator-api.js";
import type {
  DecodedOutcomes,
  EncodedOutcomes,
  WorkerChunk,
  WorkerChunkResult,
} from "./batch-protocol.js";
import type { BatchThreads, ChunkReceiver } from "./batch-threads.js";
import type { Actor, CapBounds, Snapshot, StatValues } from "./types.js";

/** Actors per message to a worker: one answer's snapshots take the calling thread ~0.2 ms. */
export const CHUNK_SIZE = 128;

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
export interface BatchSink<T> {
  /** Actor `i`'s result, made on the calling thread (an L1 hit, a refused actor, a resolve here). */
  settle(i: number, result: BatchResult): void;
  /** Whether the next chunk's values should come back in shared memory. */
  shared(): boolean;
  /** A chunk the workers answered under `token`'s epoch, still the current one. */
  chunk(indexes: readonly number[], outcomes: EncodedOutcomes, token: object): void;
  /** The batch's result, once every actor is settled. */
  finish(): T;
  /** Drops what the sink holds of its batch (the run is kept after it, see {@link BatchRun}). */
  release(): void;
}

/** An actor's result as an error. */
export function failure(actorId: string, error: unknown): BatchResult {
  return { actorId, error: error instanceof Error ? error : new Error(String(error)) };
}

/** What a chunk in flight carries back to its batch. */
interface ChunkTag {
  readonly indexes: readonly number[];
  readonly token: object;
  readonly signature: string;
}

const NO_ACTORS: readonly Actor[] = [];

/**
 * One batch on the pool. A finished run lets go of its actors and its sink's data; its pool keeps
 * the last one, so that a full collection between two batches finds a run, a sink, a chunk and an
 * answer alive and leaves the maps the optimized code was specialised to.
 */
export class BatchRun<T> implements ChunkReceiver<ChunkTag> {
  #actors: readonly Actor[];
  #next = 0;
  #inFlight = 0;
  #settled = false;
  readonly #slow: Promise<void>[] = [];
  readonly #host: BatchHost;
  readonly #sink: BatchSink<T>;
  readonly #threads: BatchThreads;
  readonly #module: string;
  readonly #maxInFlight: number;
  #resolve: (value: T) => void = () => {};
  #reject: (error: unknown) => void = () => {};
  /** The last chunk posted and the last answer (kept for their maps, see the class). */
  lastChunk: WorkerChunk | undefined;
  lastAnswer: WorkerChunkResult | undefined;

  constructor(
    actors: readonly Actor[],
    host: BatchHost,
    sink: BatchSink<T>,
    threads: BatchThreads,
    module: string,
    maxInFlight: number,
  ) {
    this.#actors = actors;
    this.#host = host;
    this.#sink = sink;
    this.#threads = threads;
    this.#module = module;
    this.#maxInFlight = maxInFlight;
  }

  /** Sends the first chunks; settles with the sink's result once every actor has one. */
  run(): Promise<T> {
    const settled = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.pump();
    return settled;
  }

  /** A chunk's answer, or the error that lost it (called by the threads). */
  answered(error: Error | undefined, answer: WorkerChunkResult | undefined, tag: ChunkTag): void {
    this.#inFlight--;
    if (this.#settled) return;
    if (error !== undefined) {
      this.#fail(error);
      return;
    }
    const result = answer as WorkerChunkResult;
    this.lastAnswer = result;
    try {
      if (result.mismatch !== undefined) {
        this.#fail(
          invalidArgument(
            "workers.module",
            `${this.#module} exports other subsystems (${result.mismatch}) than the aggregator holds (${tag.signature})`,
          ),
        );
        return;
      }
      // A reload overtook the chunk: every actor of it again, here, under the new epoch.
      if (!this.#host.isCurrent(tag.token)) for (const i of tag.indexes) this.#here(i);
      else this.#sink.chunk(tag.indexes, result.outcomes as EncodedOutcomes, tag.token);
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.pump();
  }

  /** Posts chunks until the threads have their fill or the actors run out. */
  pump(): void {
    if (this.#settled) return;
    const actors = this.#actors;
    const host = this.#host;
    const sink = this.#sink;
    // Chunks of L1 hits send nothing: bound them too, then come back on the next turn.
    let windows = 0;
    while (this.#inFlight < this.#maxInFlight && this.#next < actors.length) {
      if (windows++ === this.#maxInFlight) {
        setImmediate(pumpLater, this);
        return;
      }
      const end = Math.min(actors.length, this.#next + CHUNK_SIZE);
      const indexes: number[] = [];
      const misses: Actor[] = [];
      for (let i = this.#next; i < end; i++) {
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
      this.#next = end;
      if (misses.length === 0) continue;
      const { token, ...header } = host.header();
      const chunk: WorkerChunk = {
        ...header,
        module: this.#module,
        // As columns: a structured clone of 128 actor objects was half this turn's work.
        actors: packActors(misses) ?? misses,
        ...(sink.shared() ? { shared: true } : {}),
      };
      try {
        this.#threads.post(chunk, { indexes, token, signature: header.signature }, this);
      } catch (error) {
        // An actor that cannot be cloned (a function in its data) resolves here instead.
        if ((error as { name?: unknown } | null)?.name === "DataCloneError") {
          for (const i of indexes) this.#here(i);
          continue;
        }
        this.#fail(error);
        return;
      }
      this.lastChunk = chunk;
      this.#inFlight++;
    }
    if (this.#next >= actors.length && this.#inFlight === 0) {
      this.#settled = true;
      Promise.all(this.#slow).then(() => {
        const result = this.#sink.finish();
        this.#release();
        this.#resolve(result);
      }, this.#reject);
    }
  }

  #here(i: number): void {
    const actor = this.#actors[i] as Actor;
    const actorId = (actor as Partial<Actor> | null)?.id as string;
    const sink = this.#sink;
    try {
      const result = this.#host.resolveHere(actor);
      if (result instanceof Promise) {
        this.#slow.push(
          result.then(
            (snapshot) => sink.settle(i, { actorId, snapshot }),
            (error: unknown) => sink.settle(i, failure(actorId, error)),
          ),
        );
      } else sink.settle(i, { actorId, snapshot: result });
    } catch (error) {
      sink.settle(i, failure(actorId, error));
    }
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#release();
    this.#reject(error);
  }

  /** Lets go of the batch's data: what a kept run holds is its maps, not its batch. */
  #release(): void {
    this.#actors = NO_ACTORS;
    this.#slow.length = 0;
    this.#sink.release();
  }
}

function pumpLater(run: { pump(): void }): void {
  run.pump();
}
