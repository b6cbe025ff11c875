import { invalidArgument } from "./errors.js";

/** The lowest and highest priority an item may have. */
export const MIN_PRIORITY = -1_000_000;
export const MAX_PRIORITY = 1_000_000;
/** The longest item id or partition key, in UTF-8 bytes. */
export const MAX_QUEUE_ID_BYTES = 512;

/** A unit of work to enqueue. */
export interface EnqueueItem {
  /**
   * Dedupe id: while an item with this id is in the queue (waiting or leased), enqueueing the
   * same id again does nothing. Once acknowledged or removed, the id may be used again.
   * Default: a fresh ULID.
   */
  readonly id?: string;
  /** The work's bytes. */
  readonly payload: Uint8Array;
  /** Not claimable before this time (ms since the epoch). Default: now. */
  readonly availableAt?: number;
  /** Integer from -1,000,000 to 1,000,000; higher is claimed first. Default 0. */
  readonly priority?: number;
  /** An opaque group; `claim` can be limited to one partition. */
  readonly partitionKey?: string;
}

/** The outcome of enqueueing one item. */
export interface EnqueueResult {
  /** The item's id (given or generated). */
  readonly id: string;
  /** False when an item with this id was already queued, so nothing changed. */
  readonly created: boolean;
}

/** An item as stored. */
export interface QueueItem {
  /** The item's id. */
  readonly id: string;
  /** The work's bytes. */
  readonly payload: Uint8Array;
  /** Higher is claimed first. */
  readonly priority: number;
  /** The item's group, if any. */
  readonly partitionKey: string | undefined;
  /** When the item becomes (or became) claimable, ms since the epoch. */
  readonly availableAt: number;
  /** When the item was first enqueued, ms since the epoch. */
  readonly enqueuedAt: number;
  /** How many times the item has been claimed, this claim included. */
  readonly attempts: number;
  /**
   * "waiting" (claimable from `availableAt`) or "leased" (claimed and not yet acknowledged,
   * retried or claimed again; claimable again once the lease lapses).
   */
  readonly state: "waiting" | "leased";
}

/** Names one held lease, for `ack`, `retry` and `extend`. */
export interface LeaseRef {
  /** The item's id. */
  readonly id: string;
  /** The lease's own id: a later claim of the same item gets another one. */
  readonly leaseId: string;
}

/** A claimed item and the lease that holds it. */
export interface Lease extends QueueItem, LeaseRef {
  /** When the lease lapses unless extended (ms since the epoch); then the item is claimable again. */
  readonly leaseExpiresAt: number;
}

/** What `claim` takes. */
export interface ClaimOptions {
  /** At most this many items (a positive integer). */
  readonly limit: number;
  /** How long the lease lasts, in ms (a positive integer). */
  readonly leaseMs: number;
  /** Only items of this partition. */
  readonly partitionKey?: string;
  /**
   * The claimer's stable identity (see {@link validateLeaseOwner}): the leases handed out carry
   * it, so that after a crash the same claimer can take them back at once with
   * {@link Queue.releaseOwner} instead of waiting for them to lapse.
   */
  readonly owner?: string;
}

/** What `retry` takes. */
export interface RetryOptions {
  /** When the item becomes claimable again (ms since the epoch). Default: now. */
  readonly availableAt?: number;
}

/**
 * The outcome of {@link Queue.ackMany} or {@link Queue.retryMany}: every distinct lease given
 * lands in exactly one of the two lists, each list in the order the leases were given.
 *
 * A lease counts as held when it is still its item's latest lease at the moment the batch is
 * applied, exactly as for `ack`/`retry` (a lapsed lease that nobody claimed since is still held).
 * The same `{ id, leaseId }` given twice counts once; two different leases on one item can be held
 * at most one at a time, so at most one of them is applied and the other is lost.
 */
export interface LeaseBatchResult {
  /** The leases this call applied: their items were acknowledged (ackMany) or released (retryMany). */
  readonly applied: readonly LeaseRef[];
  /**
   * The leases that were no longer held (lapsed and claimed again, or the item was acknowledged
   * or removed): nothing happened to their items. `ack`/`retry` would have failed with
   * `LEASE_LOST` for each of them.
   */
  readonly lost: readonly LeaseRef[];
}

/** How many items a queue holds. */
export interface QueueCounts {
  /** Items waiting to be claimed (available now or later). */
  readonly waiting: number;
  /** Items in state "leased" (their lease may have lapsed). */
  readonly leased: number;
}

/**
 * Durable work items with at-least-once delivery under leases (visibility timeouts).
 *
 * `claim` hands out items whose `availableAt` has come, highest priority first, then earliest
 * `availableAt`, then enqueue order; each claimed item is held under a lease that no other claimer
 * can take until it lapses. A lapsed lease makes the item claimable again (and counts another
 * attempt). `ack`, `retry` and `extend` succeed while the lease is still the item's latest,
 * even after it lapsed if nobody has claimed the item since; otherwise they fail with code
 * `LEASE_LOST`. Every adapter passes `describeQueue` from `@troupe/testkit`.
 */
export interface Queue {
  /** The adapter's name (`"memory"`, `"sqlite"`, …). */
  readonly name: string;
  /** The queue's name: queues with different names in one database are independent. */
  readonly queueName: string;

  /** Adds one item; see {@link EnqueueItem.id} for dedupe. */
  enqueue(item: EnqueueItem): Promise<EnqueueResult>;

  /** Adds several items atomically (all or none); results are in the same order. */
  enqueueMany(items: readonly EnqueueItem[]): Promise<EnqueueResult[]>;

  /**
   * Leases up to `limit` claimable items, returned in claim order. Resolves to an empty array
   * when none is due. An item whose lease lapsed ranks by its due time, which an adapter may take
   * as its `availableAt` or its lapsed lease's expiry; either way it never outranks a higher
   * priority.
   */
  claim(options: ClaimOptions): Promise<Lease[]>;

  /** Finishes the item: it leaves the queue and its id may be reused. */
  ack(lease: LeaseRef): Promise<void>;

  /**
   * Acknowledges several leases at once, in one round trip and one commit: every lease still
   * held is finished as by `ack`; every lease no longer held is reported in
   * {@link LeaseBatchResult.lost} instead of failing the call, and its item is left alone. An
   * empty batch resolves to two empty lists. Bad input (anything but an array of lease refs)
   * fails with INVALID_ARGUMENT naming the entry (`leases[2].id`) before anything changes.
   */
  ackMany(leases: readonly LeaseRef[]): Promise<LeaseBatchResult>;

  /** Releases the item to be claimed again at `availableAt`; its attempt count is kept. */
  retry(lease: LeaseRef, options?: RetryOptions): Promise<void>;

  /**
   * Releases several leases at once, in one round trip and one commit, each as by `retry` with
   * the same `options`; leases no longer held are reported as for {@link Queue.ackMany}.
   */
  retryMany(leases: readonly LeaseRef[], options?: RetryOptions): Promise<LeaseBatchResult>;

  /** Moves the lease's expiry to `leaseMs` from now; resolves to the new expiry. */
  extend(lease: LeaseRef, leaseMs: number): Promise<number>;

  /** Removes an item whatever its state (a lease on it is lost). Resolves to whether it existed. */
  remove(id: string): Promise<boolean>;

  /** The item with `id`, or undefined. */
  get(id: string): Promise<QueueItem | undefined>;

  /**
   * The earliest time any item (of `partitionKey`, when given) is or becomes claimable: a waiting
   * item's `availableAt`, or a leased item's `leaseExpiresAt`. Undefined when the queue (or
   * partition) is empty. Workers sleep until then (or until woken through PubSub).
   */
  nextAvailableAt(partitionKey?: string): Promise<number | undefined>;

  /** How many items wait and how many are leased. */
  counts(): Promise<QueueCounts>;

  /**
   * Optional capability: makes every item still leased under a lease claimed with
   * `{ owner }` claimable again now, as by `retry` (attempts and enqueue order kept; those
   * leases are lost). For a claimer that restarted after a crash and knows it is the only live
   * holder of `owner`: its work in flight resumes at once instead of after the lease. Items
   * whose leases lapsed and were claimed again by someone else are left alone. Resolves to how
   * many items were released. Every built-in adapter has it; `describeQueue` tests it.
   */
  releaseOwner?(owner: string): Promise<number>;

  /** Releases the adapter's resources; later calls fail with code `CLOSED`. Idempotent. */
  close(): Promise<void>;
}

/** Validates an item id or partition key: a non-empty string of at most 512 UTF-8 bytes. */
export function validateQueueText(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw invalidArgument(field, "expected a non-empty string");
  }
  if (Buffer.byteLength(value, "utf8") > MAX_QUEUE_ID_BYTES) {
    throw invalidArgument(field, `is longer than ${MAX_QUEUE_ID_BYTES} UTF-8 bytes`);
  }
}

function validateTime(value: unknown, field: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(
      field,
      `expected a time in whole ms since the epoch, got ${String(value)}`,
    );
  }
}

/** Validates items for `enqueueMany` (duplicate ids within one call are allowed and dedupe). */
export function validateEnqueueItems(items: readonly EnqueueItem[], field = "items"): void {
  if (!Array.isArray(items)) throw invalidArgument(field, "expected an array");
  items.forEach((item: EnqueueItem, index) => {
    // A single `enqueue` passes field "item" and reads better without an index.
    const at = field === "item" ? "item" : `${field}[${index}]`;
    if (typeof item !== "object" || item === null) throw invalidArgument(at, "expected an object");
    if (item.id !== undefined) validateQueueText(item.id, `${at}.id`);
    if (!(item.payload instanceof Uint8Array))
      throw invalidArgument(`${at}.payload`, "expected a Uint8Array");
    if (item.availableAt !== undefined) validateTime(item.availableAt, `${at}.availableAt`);
    if (
      item.priority !== undefined &&
      (!Number.isInteger(item.priority) ||
        item.priority < MIN_PRIORITY ||
        item.priority > MAX_PRIORITY)
    ) {
      throw invalidArgument(
        `${at}.priority`,
        `expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}, got ${String(item.priority)}`,
      );
    }
    if (item.partitionKey !== undefined) validateQueueText(item.partitionKey, `${at}.partitionKey`);
  });
}

/** Validates `claim` options. */
export function validateClaimOptions(options: ClaimOptions): void {
  if (typeof options !== "object" || options === null)
    throw invalidArgument("claim", "expected options");
  if (!Number.isInteger(options.limit) || options.limit < 1) {
    throw invalidArgument(
      "claim.limit",
      `expected a positive integer, got ${String(options.limit)}`,
    );
  }
  if (!Number.isInteger(options.leaseMs) || options.leaseMs < 1) {
    throw invalidArgument(
      "claim.leaseMs",
      `expected a positive integer, got ${String(options.leaseMs)}`,
    );
  }
  if (options.partitionKey !== undefined)
    validateQueueText(options.partitionKey, "claim.partitionKey");
  if (options.owner !== undefined) validateLeaseOwner(options.owner, "claim.owner");
}

/** The longest lease owner, in characters. */
export const MAX_LEASE_OWNER_LENGTH = 128;
const LEASE_OWNER_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** Separates the owner from the rest of a lease id claimed with an owner. */
export const LEASE_OWNER_SEPARATOR = "~";

/**
 * Validates a lease owner: 1 to 128 characters of letters, digits, `.`, `_`, `:` and `-` (so it
 * can prefix a lease id unambiguously and be matched without escaping).
 */
export function validateLeaseOwner(owner: unknown, field = "owner"): asserts owner is string {
  if (
    typeof owner !== "string" ||
    owner.length === 0 ||
    owner.length > MAX_LEASE_OWNER_LENGTH ||
    !LEASE_OWNER_PATTERN.test(owner)
  ) {
    throw invalidArgument(
      field,
      `expected 1 to ${MAX_LEASE_OWNER_LENGTH} characters of letters, digits, ".", "_", ":" and "-"`,
    );
  }
}

/**
 * The lease-id prefix of leases claimed by `owner` (empty without one): adapters put it in front
 * of the lease ids they make, and `releaseOwner` matches it.
 */
export function leaseOwnerPrefix(owner: string | undefined): string {
  return owner === undefined ? "" : `${owner}${LEASE_OWNER_SEPARATOR}`;
}

/** Validates a lease reference. */
export function validateLeaseRef(lease: LeaseRef, field = "lease"): void {
  if (typeof lease !== "object" || lease === null)
    throw invalidArgument(field, "expected { id, leaseId }");
  validateQueueText(lease.id, `${field}.id`);
  validateQueueText(lease.leaseId, `${field}.leaseId`);
}

/**
 * Validates the leases of `ackMany`/`retryMany` and returns them without repeats (the first of
 * each `{ id, leaseId }` pair kept, order kept).
 */
export function distinctLeaseRefs(leases: readonly LeaseRef[], field = "leases"): LeaseRef[] {
  if (!Array.isArray(leases)) throw invalidArgument(field, "expected an array of { id, leaseId }");
  const seen = new Set<string>();
  const distinct: LeaseRef[] = [];
  leases.forEach((lease: LeaseRef, index) => {
    validateLeaseRef(lease, `${field}[${index}]`);
    const key = JSON.stringify([lease.id, lease.leaseId]);
    if (seen.has(key)) return;
    seen.add(key);
    distinct.push({ id: lease.id, leaseId: lease.leaseId });
  });
  return distinct;
}

/**
 * Splits `leases` into applied and lost by whether `isApplied` holds for each, keeping order:
 * how adapters build a {@link LeaseBatchResult} from the set of leases their statement matched.
 */
export function leaseBatchResult(
  leases: readonly LeaseRef[],
  isApplied: (lease: LeaseRef) => boolean,
): LeaseBatchResult {
  const applied: LeaseRef[] = [];
  const lost: LeaseRef[] = [];
  for (const lease of leases) (isApplied(lease) ? applied : lost).push(lease);
  return { applied, lost };
}

/** Validates `extend`'s duration. */
export function validateLeaseMs(leaseMs: number, field = "leaseMs"): void {
  if (!Number.isInteger(leaseMs) || leaseMs < 1) {
    throw invalidArgument(field, `expected a positive integer, got ${String(leaseMs)}`);
  }
}

/** Validates `retry` options. */
export function validateRetryOptions(options: RetryOptions | undefined): void {
  if (options?.availableAt !== undefined) validateTime(options.availableAt, "retry.availableAt");
}
