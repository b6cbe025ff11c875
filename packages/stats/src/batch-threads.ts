// The batch workers themselves: a fixed set of worker threads, each sent chunks by message. An
// answer comes back in the chunk's mailbox (shared memory, read on a 1 ms timer, so that answers
// never wake the calling thread's event loop between its timers) or, for a chunk without one, as
// a message.
import { Worker } from "node:worker_threads";
import { openMailbox } from "./batch-mailbox.js";
import type {
  BatchWorkerData,
  ChunkAnswer,
  ChunkRequest,
  WorkerChunk,
  WorkerChunkResult,
} from "./batch-protocol.js";

/** How the worker module is loaded: its file URL and the worker's `execArgv`. */
export interface WorkerEntry {
  readonly filename: string;
  readonly execArgv: readonly string[];
}

/** A chunk's answer: its result, and the mailbox bytes it needed (for chunks in shared memory). */
export interface ThreadAnswer {
  readonly result: WorkerChunkResult;
  readonly bytes: number | undefined;
}

interface Thread {
  readonly worker: Worker;
  /** Chunks posted to it and not answered yet. */
  busy: number;
}

interface Waiting {
  readonly thread: Thread;
  readonly mailbox: SharedArrayBuffer | undefined;
  readonly resolve: (answer: ThreadAnswer) => void;
  readonly reject: (error: unknown) => void;
}

/** How often the calling thread looks at the mailboxes of chunks in flight. */
const POLL_MS = 1;

/** Worker threads answering chunks, started on construction. */
export class BatchThreads {
  private readonly threads: Thread[] = [];
  private readonly waiting = new Map<number, Waiting>();
  /** The chunks whose answers are awaited in their mailboxes. */
  private readonly polled = new Map<number, Waiting>();
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly entry: WorkerEntry,
    count: number,
    private readonly nice: number,
  ) {
    for (let i = 0; i < count; i++) this.threads.push(this.spawn());
  }

  private spawn(): Thread {
    const workerData: BatchWorkerData = { troupeStatsBatch: true, nice: this.nice };
    const worker = new Worker(new URL(this.entry.filename), {
      execArgv: [...this.entry.execArgv],
      workerData,
    });
    const thread: Thread = { worker, busy: 0 };
    worker.unref();
    worker.on("message", (answer: ChunkAnswer) => {
      const waiting = this.waiting.get(answer.id);
      if (waiting === undefined) return;
      this.settled(answer.id, waiting);
      if (answer.error !== undefined || answer.result === undefined) {
        waiting.reject(answer.error ?? new Error("a batch worker answered nothing"));
      } else waiting.resolve({ result: answer.result, bytes: answer.bytes });
    });
    const lost = (error: unknown) => {
      const at = this.threads.indexOf(thread);
      if (at < 0) return;
      // Its chunks fail; a new worker takes its place.
      for (const [id, waiting] of this.waiting) {
        if (waiting.thread !== thread) continue;
        this.settled(id, waiting);
        waiting.reject(error);
      }
      if (this.closed) this.threads.splice(at, 1);
      else this.threads[at] = this.spawn();
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`a batch worker exited (code ${code})`)));
    return thread;
  }

  private settled(id: number, waiting: Waiting): void {
    this.waiting.delete(id);
    if (this.polled.delete(id) && this.polled.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (--waiting.thread.busy === 0) waiting.thread.worker.unref();
  }

  /** Reads the mailboxes that have an answer (every `POLL_MS` while any chunk has one). */
  private readonly poll = (): void => {
    for (const [id, waiting] of this.polled) {
      const opened = openMailbox(waiting.mailbox as SharedArrayBuffer);
      if (opened === undefined) continue;
      this.settled(id, waiting);
      waiting.resolve({ result: { outcomes: opened.outcomes }, bytes: opened.bytes });
    }
  };

  /**
   * Posts `chunk` to the least busy worker; with a `mailbox` (a chunk in shared memory) the answer
   * is read from it when it fits there. Rejects with a `DataCloneError` for an actor that cannot
   * be cloned.
   */
  run(chunk: WorkerChunk, mailbox?: SharedArrayBuffer): Promise<ThreadAnswer> {
    if (this.closed) return Promise.reject(new Error("the batch workers are closed"));
    let thread = this.threads[0] as Thread;
    for (const other of this.threads) if (other.busy < thread.busy) thread = other;
    const id = this.nextId++;
    const request: ChunkRequest = mailbox === undefined ? { id, chunk } : { id, chunk, mailbox };
    try {
      thread.worker.postMessage(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<ThreadAnswer>((resolve, reject) => {
      const waiting: Waiting = { thread, mailbox, resolve, reject };
      if (thread.busy++ === 0) thread.worker.ref();
      this.waiting.set(id, waiting);
      if (mailbox === undefined) return;
      this.polled.set(id, waiting);
      this.timer ??= setInterval(this.poll, POLL_MS);
    });
  }

  /** Stops the workers; what is in flight fails. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.threads.map((thread) => thread.worker);
    await Promise.all(workers.map((worker) => worker.terminate()));
    for (const [id, waiting] of this.waiting) {
      this.settled(id, waiting);
      waiting.reject(new Error("the batch workers were closed"));
    }
  }
}
