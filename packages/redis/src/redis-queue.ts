import { randomBytes } from "node:crypto";
import {
  type ClaimOptions,
  type Clock,
  closedError,
  createIdGenerator,
  distinctLeaseRefs,
  type EnqueueItem,
  type EnqueueResult,
  invalidArgument,
  type Lease,
  type LeaseBatchResult,
  type LeaseRef,
  leaseBatchResult,
  leaseLost,
  leaseOwnerPrefix,
  MAX_QUEUE_ID_BYTES,
  type Queue,
  type QueueItem,
  type RetryOptions,
  systemClock,
  TroupeError,
  validateClaimOptions,
  validateEnqueueItems,
  validateLeaseMs,
  validateLeaseOwner,
  validateLeaseRef,
  validateRetryOptions,
} from "@troupe/core";
import { z } from "zod";
import {
  connectionShape,
  defineScript,
  openConnection,
  parseOptions,
  prefixSchema,
  type RedisConnectionOptions,
  runOperation,
} from "./connection.js";
import {
  ACK_LUA,
  ACK_MANY_LUA,
  CLAIM_LUA,
  COUNTS_LUA,
  ENQUEUE_LUA,
  EXTEND_LUA,
  RELEASE_OWNER_LUA,
  REMOVE_LUA,
  RETRY_LUA,
  RETRY_MANY_LUA,
} from "./queue-scripts.js";

/** Options of {@link createRedisQueue}. */
export interface RedisQueueOptions extends RedisConnectionOptions {
  /** The queue's name: letters, digits and `._:/-`, at most 200 characters. */
  readonly queueName: string;
  /** Where time comes from (a `ManualClock` in tests); Redis's own clock is never read. Default: the system clock. */
  readonly clock?: Clock;
  /** Prepended to every key the queue writes. Default "troupe:". */
  readonly prefix?: string;
}

/** The Redis keys of a queue (all under one hash tag, `{queue:<name>}`). */
export interface RedisQueueKeys {
  /** What every key of the queue starts with. */
  readonly base: string;
  /** Sorted set of items not claimable yet (delayed, or leased), by when they become claimable. */
  readonly due: string;
  /** Sorted set at score 0 of claimable items, lex-ordered by priority, availableAt, enqueue order. */
  readonly ready: string;
  /** Sorted set of every item by when it is or becomes claimable (for `nextAvailableAt`). */
  readonly times: string;
  /** Hash of counters: `seq` (enqueue order) and `leased`. */
  readonly meta: string;
}

/** The key names a queue uses (for inspection and clean-up). */
export function redisQueueKeys(queueName: string, prefix = "troupe:"): RedisQueueKeys {
  const base = `${prefix}{queue:${queueName}}:`;
  return {
    base,
    due: `${base}due`,
    ready: `${base}ready`,
    times: `${base}times`,
    meta: `${base}meta`,
  };
}

const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as { now?: unknown }).now === "function",
  "expected a Clock",
);

const optionsSchema = z.object({
  ...connectionShape,
  prefix: prefixSchema.optional(),
  queueName: z
    .string({ error: "expected a string" })
    .regex(/^[A-Za-z0-9._:/-]{1,200}$/, "must be 1-200 letters, digits or . _ : / -"),
  clock: clockSchema.optional(),
});

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

function integer(value: unknown): number {
  return typeof value === "number" ? value : Number(text(value));
}

function validateText(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw invalidArgument(field, "expected a non-empty string");
  }
  if (Buffer.byteLength(value, "utf8") > MAX_QUEUE_ID_BYTES) {
    throw invalidArgument(field, `is longer than ${MAX_QUEUE_ID_BYTES} UTF-8 bytes`);
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A {@link Queue} on Redis. Each item is a hash; three sorted sets index them (due times, the
 * claimable set ordered by priority, availableAt and enqueue order, and every item's next
 * claimable time), once for the queue and once per partition key. Every operation is one Lua
 * script with the time passed in from `clock`.
 */
export function createRedisQueue(options: RedisQueueOptions): Queue {
  const parsed = parseOptions("createRedisQueue", optionsSchema, options);
  const connection = openConnection("createRedisQueue", parsed as RedisConnectionOptions);
  const { queueName } = parsed;
  const clock = parsed.clock ?? systemClock;
  const keys = redisQueueKeys(queueName, parsed.prefix ?? "troupe:");
  const keyArgs = [keys.due, keys.ready, keys.times, keys.meta];
  const { client } = connection;
  const newId = createIdGenerator(clock);
  // Lease ids only need to be unique per item: a random stem per queue handle plus a counter is
  // enough, and cheaper than a ULID per claim (the claim script appends "-<n>" per item).
  const leaseStem = randomBytes(8).toString("hex");
  let claimCount = 0;
  const scripts = {
    enqueue: defineScript(client, "troupeQueueEnqueue", 4, ENQUEUE_LUA),
    claim: defineScript(client, "troupeQueueClaim", 4, CLAIM_LUA),
    ack: defineScript(client, "troupeQueueAck", 4, ACK_LUA),
    ackMany: defineScript(client, "troupeQueueAckMany", 4, ACK_MANY_LUA),
    retry: defineScript(client, "troupeQueueRetry", 4, RETRY_LUA),
    retryMany: defineScript(client, "troupeQueueRetryMany", 4, RETRY_MANY_LUA),
    extend: defineScript(client, "troupeQueueExtend", 4, EXTEND_LUA),
    remove: defineScript(client, "troupeQueueRemove", 4, REMOVE_LUA),
    releaseOwner: defineScript(client, "troupeQueueReleaseOwner", 4, RELEASE_OWNER_LUA),
    counts: defineScript(client, "troupeQueueCounts", 4, COUNTS_LUA),
  };
  const what = `redis queue ${JSON.stringify(queueName)}`;
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError(what);
  };
  // `now` is read once per operation and handed to the script, so what the caller is told
  // (a lease's expiry, an item's enqueue time) is exactly what was stored.
  const call = async (
    name: keyof typeof scripts,
    kind: "read" | "write",
    args: readonly (string | Buffer)[],
    now: number = clock.now(),
  ): Promise<unknown> =>
    runOperation(connection, `${what} ${name}`, kind, () =>
      scripts[name](...keyArgs, keys.base, String(now), ...args),
    );

  const enqueueMany = async (items: readonly EnqueueItem[]): Promise<EnqueueResult[]> => {
    ensureOpen();
    validateEnqueueItems(items);
    if (items.length === 0) return [];
    const ids = items.map((item) => item.id ?? newId());
    const now = clock.now();
    const args: (string | Buffer)[] = [String(items.length)];
    items.forEach((item, index) => {
      args.push(
        ids[index] as string,
        toBuffer(item.payload),
        String(item.priority ?? 0),
        String(item.availableAt ?? now),
        item.partitionKey ?? "",
      );
    });
    const reply = (await call("enqueue", "write", args, now)) as unknown[];
    return ids.map((id, index) => ({ id, created: integer(reply[index]) === 1 }));
  };

  const lost = (ref: LeaseRef) => leaseLost(queueName, ref.id);

  // One script call for the whole batch; the reply holds 1 (applied) or 0 (not held) per lease.
  const settleMany = async (
    name: "ackMany" | "retryMany",
    leases: readonly LeaseRef[],
    leading: readonly string[],
  ): Promise<LeaseBatchResult> => {
    ensureOpen();
    const refs = distinctLeaseRefs(leases);
    if (refs.length === 0) return { applied: [], lost: [] };
    const args = [...leading, String(refs.length)];
    for (const ref of refs) args.push(ref.id, ref.leaseId);
    const reply = (await call(name, "write", args)) as unknown[];
    const applied = new Set(refs.filter((_, index) => integer(reply[index]) === 1));
    return leaseBatchResult(refs, (ref) => applied.has(ref));
  };

  return {
    name: "redis",
    queueName,
    async enqueue(item) {
      const [result] = await enqueueMany([item]);
      if (result === undefined)
        throw new TroupeError("INTERNAL", `${what}: enqueue returned nothing`);
      return result;
    },
    enqueueMany,
    async claim(claimOptions: ClaimOptions) {
      ensureOpen();
      validateClaimOptions(claimOptions);
      const now = clock.now();
      const reply = (await call(
        "claim",
        "write",
        [
          String(claimOptions.limit),
          String(claimOptions.leaseMs),
          `${leaseOwnerPrefix(claimOptions.owner)}${leaseStem}.${(claimCount++).toString(36)}`,
          claimOptions.partitionKey ?? "",
        ],
        now,
      )) as unknown[];
      const leases: Lease[] = [];
      for (let at = 0; at + 7 < reply.length; at += 8) {
        const partitionKey = text(reply[at + 3]);
        leases.push({
          id: text(reply[at]),
          payload: new Uint8Array(reply[at + 1] as Buffer),
          priority: integer(reply[at + 2]),
          partitionKey: partitionKey === "" ? undefined : partitionKey,
          availableAt: integer(reply[at + 4]),
          enqueuedAt: integer(reply[at + 5]),
          attempts: integer(reply[at + 6]),
          state: "leased",
          leaseId: text(reply[at + 7]),
          leaseExpiresAt: now + claimOptions.leaseMs,
        });
      }
      return leases;
    },
    async ack(ref) {
      ensureOpen();
      validateLeaseRef(ref);
      const reply = await call("ack", "write", [ref.id, ref.leaseId]);
      if (integer(reply) !== 1) throw lost(ref);
    },
    ackMany(leases) {
      return settleMany("ackMany", leases, []);
    },
    async retryMany(leases, retryOptions?: RetryOptions) {
      ensureOpen();
      validateRetryOptions(retryOptions);
      const availableAt = retryOptions?.availableAt;
      return settleMany("retryMany", leases, [
        availableAt === undefined ? "" : String(availableAt),
      ]);
    },
    async releaseOwner(owner) {
      ensureOpen();
      validateLeaseOwner(owner);
      return integer(await call("releaseOwner", "write", [leaseOwnerPrefix(owner)]));
    },
    async retry(ref, retryOptions?: RetryOptions) {
      ensureOpen();
      validateLeaseRef(ref);
      validateRetryOptions(retryOptions);
      const availableAt = retryOptions?.availableAt;
      const reply = await call("retry", "write", [
        ref.id,
        ref.leaseId,
        availableAt === undefined ? "" : String(availableAt),
      ]);
      if (integer(reply) !== 1) throw lost(ref);
    },
    async extend(ref, leaseMs) {
      ensureOpen();
      validateLeaseRef(ref);
      validateLeaseMs(leaseMs);
      const reply = integer(await call("extend", "write", [ref.id, ref.leaseId, String(leaseMs)]));
      if (reply < 0) throw lost(ref);
      return reply;
    },
    async remove(id) {
      ensureOpen();
      validateText(id, "id");
      return integer(await call("remove", "write", [id])) === 1;
    },
    async get(id) {
      ensureOpen();
      validateText(id, "id");
      const fields = await runOperation(connection, `${what} get`, "read", () =>
        client.hmgetBuffer(`${keys.base}item:${id}`, "p", "pr", "pk", "av", "eq", "at", "l"),
      );
      const [payload, priority, partitionKey, availableAt, enqueuedAt, attempts, leaseId] = fields;
      if (!payload) return undefined;
      const item: QueueItem = {
        id,
        payload: new Uint8Array(payload),
        priority: integer(priority),
        partitionKey: partitionKey ? text(partitionKey) : undefined,
        availableAt: integer(availableAt),
        enqueuedAt: integer(enqueuedAt),
        attempts: integer(attempts),
        state: leaseId ? "leased" : "waiting",
      };
      return item;
    },
    async nextAvailableAt(partitionKey) {
      ensureOpen();
      if (partitionKey !== undefined) {
        validateText(partitionKey, "partitionKey");
      }
      const key =
        partitionKey === undefined ? keys.times : `${keys.base}part:${partitionKey}:times`;
      const reply = await runOperation(connection, `${what} nextAvailableAt`, "read", () =>
        client.zrange(key, 0, 0, "WITHSCORES"),
      );
      return reply[1] === undefined ? undefined : Number(reply[1]);
    },
    async counts() {
      ensureOpen();
      const reply = (await call("counts", "read", [])) as unknown[];
      const total = integer(reply[0]);
      const leased = integer(reply[1]);
      return { waiting: total - leased, leased };
    },
    async close() {
      if (closed) return;
      closed = true;
      await connection.close();
    },
  };
}
