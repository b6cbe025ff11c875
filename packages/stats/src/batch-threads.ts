// The batch worker threads: started on first use, each fed chunks in order and answering them in
// order, so an answer needs no id: it belongs to the oldest chunk its thread has in flight. A chunk
// costs the calling thread its message and two queue entries — no promise, no async resource, no
// object per task. The last matters beyond the work it saves: optimized code is specialised to the
// maps of the objects it handles, and objects that live for one task only are all dead at a full
// collection between two batches, which then takes their maps and the code with them, to be
// compiled again on V8's helper threads while the next batch runs (see "Batches on worker threads"
// in the README).
import { Worker } from "node:worker_threads";
import { errorOf, type WorkerChunk, type WorkerChunkResult } from "./batch-protocol.js";

/** What a thread is started with: its entry module, Node options, and its `workerData`. */
export interface BatchThreadsOptions {
  /** The number of threads. */
  readonly threads: number;
  /** The worker module (a file URL), imported by each thread. */
  readonly entry: string;
  readonly execArgv: readonly string[];
  /** A module each thread imports before the entry (tsx's hooks, when running from source). */
  readonly preload?: string;
  readonly workerData: unknown;
}

/** Told once per chunk posted: its answer, or the error that lost it. */
export interface ChunkReceiver<T> {
  answered(error: Error | undefined, answer: WorkerChunkResult | undefined, tag: T): void;
}

class BatchThread {
  /** The tags and receivers of the chunks in flight, oldest first. */
  readonly tags: unknown[] = [];
  readonly receivers: ChunkReceiver<unknown>[] = [];

  constructor(readonly worker: Worker) {}
}

/** Worker threads that resolve chunks of a batch, started when first posted to. */
export class BatchThreads {
  readonly #options: BatchThreadsOptions;
  readonly #threads: (BatchThread | undefined)[];
  #closed = false;

  constructor(options: BatchThreadsOptions) {
    this.#options = options;
    this.#threads = new Array(options.threads).fill(undefined);
  }

  /**
   * Posts `chunk` to the thread with the fewest chunks in flight; `receiver` is told its answer
   * (or the error that lost it) with `tag`. Throws what cloning the chunk throws (a
   * `DataCloneError` for a function in an actor's data), with nothing posted.
   */
  post<T>(chunk: WorkerChunk, tag: T, receiver: ChunkReceiver<T>): void {
    if (this.#closed) throw new Error("the batch worker threads are closed");
    let best: BatchThread | undefined;
    for (let i = 0; i < this.#threads.length; i++) {
      const thread = this.#threads[i] ?? this.#start(i);
      if (best === undefined || thread.tags.length < best.tags.length) best = thread;
    }
    const thread = best as BatchThread;
    thread.worker.postMessage(chunk);
    thread.tags.push(tag);
    thread.receivers.push(receiver as ChunkReceiver<unknown>);
    // A thread with work holds the process open; an idle one does not.
    if (thread.tags.length === 1) thread.worker.ref();
  }

  /** Stops every thread; chunks still in flight fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0);
    await Promise.all(
      threads.map(async (thread) => {
        if (thread === undefined) return;
        this.#lose(thread, new Error("the batch worker threads were closed"));
        await thread.worker.terminate();
      }),
    );
  }

  #start(slot: number): BatchThread {
    const { entry, execArgv, preload, workerData } = this.#options;
    // A bootstrap that imports the entry, after the preload (if any) has registered its hooks.
    const bootstrap =
      preload === undefined
        ? `import(${JSON.stringify(entry)});`
        : `import(${JSON.stringify(preload)}).then(() => import(${JSON.stringify(entry)}));`;
    const worker = new Worker(bootstrap, {
      eval: true,
      execArgv: [...execArgv],
      workerData,
    });
    const thread = new BatchThread(worker);
    this.#threads[slot] = thread;
    worker.unref();
    worker.on("message", (answer: WorkerChunkResult) => {
      const tag = thread.tags.shift();
      const receiver = thread.receivers.shift();
      if (thread.tags.length === 0) worker.unref();
      if (receiver === undefined) return;
      if (answer.failure !== undefined) receiver.answered(errorOf(answer.failure), undefined, tag);
      else receiver.answered(undefined, answer, tag);
    });
    worker.on("messageerror", (error: Error) => {
      // An answer that could not be read: its chunk fails, the thread goes on.
      const tag = thread.tags.shift();
      const receiver = thread.receivers.shift();
      if (thread.tags.length === 0) worker.unref();
      receiver?.answered(error, undefined, tag);
    });
    worker.on("error", (error: Error) => this.#retire(slot, thread, error));
    worker.on("exit", (code: number) =>
      this.#retire(slot, thread, new Error(`a batch worker thread exited with code ${code}`)),
    );
    return thread;
  }

  /** A thread that failed or exited: its chunks fail, and the next post starts another. */
  #retire(slot: number, thread: BatchThread, error: Error): void {
    if (this.#threads[slot] === thread) this.#threads[slot] = undefined;
    this.#lose(thread, error);
  }

  #lose(thread: BatchThread, error: Error): void {
    const tags = thread.tags.splice(0);
    const receivers = thread.receivers.splice(0);
    for (let k = 0; k < receivers.length; k++) {
      (receivers[k] as ChunkReceiver<unknown>).answered(error, undefined, tags[k]);
    }
  }
}
