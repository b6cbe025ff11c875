// A budget for the shared memory that compact batches hold. V8 does not count SharedArrayBuffers
// toward the heap limits that start its full collections, so a batch's packed values there cost
// the calling thread no collection while it arrives; but neither does V8 know to collect dropped
// batches to free that memory. Past the budget, batches use transferred ArrayBuffers again (which
// V8 counts, and collects for), until the batches holding shared memory are collected.

/** Shared-memory bytes that live compact batches may hold (~3 batches of 100,000 actors). */
export const SHARED_BYTES_LIMIT = 256 * 2 ** 20;

/** Counts the shared bytes held by live batches; releases them when a batch is collected. */
export class SharedBytes {
  private held = 0;
  private readonly finalizer = new FinalizationRegistry<number>((bytes) => this.release(bytes));

  constructor(private readonly limit: number = SHARED_BYTES_LIMIT) {}

  /** Whether the next chunk may use shared memory. */
  get available(): boolean {
    return this.held < this.limit;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /** `bytes` more are held (a chunk arrived in shared memory). */
  charge(bytes: number): void {
    this.held += bytes;
  }

  /** `bytes` are no longer held (their batch was collected, or failed). */
  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /** Releases `bytes` when `owner` is collected. */
  holdUntilCollected(owner: object, bytes: number): void {
    if (bytes > 0) this.finalizer.register(owner, bytes);
  }
}
