import {
  createMemoryQueue,
  type Lease,
  MAX_PRIORITY,
  ManualClock,
  MIN_PRIORITY,
  type Queue,
  utf8,
} from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  connectOrFail,
  deleteKeys,
  openAdminClient,
  redisUrl,
  useScratchPrefixes,
} from "../test/redis-env.js";
import { createRedisQueue, redisQueueKeys } from "./redis-queue.js";

const freshPrefix = useScratchPrefixes("queue");

type Command =
  | { kind: "enqueue"; id: string; priority: number; delay: number; partition?: string | undefined }
  | { kind: "claim"; limit: number; leaseMs: number; partition?: string | undefined }
  | { kind: "advance"; ms: number }
  | { kind: "ack" | "retry" | "extend"; pick: number; delay: number };

const partition = fc.option(fc.constantFrom("a", "b"), { nil: undefined });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("enqueue" as const),
      id: fc.constantFrom("i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"),
      priority: fc.constantFrom(MIN_PRIORITY, -1, 0, 0, 1, MAX_PRIORITY),
      delay: fc.constantFrom(0, 0, 5, 30, 1000),
      partition,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("claim" as const),
      limit: fc.integer({ min: 1, max: 4 }),
      leaseMs: fc.constantFrom(10, 50, 5000),
      partition,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.constantFrom(1, 10, 40, 2000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("ack" as const, "retry" as const, "extend" as const),
      pick: fc.nat(),
      delay: fc.constantFrom(0, 20),
    }),
  },
);

interface Side {
  readonly queue: Queue;
  /** Leases handed out, by the position of the claim in the run (ids align across sides). */
  readonly leases: Lease[];
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    return `error ${(error as { code?: string }).code}`;
  }
}

const strip = (lease: Lease) => ({
  ...lease,
  leaseId: "",
  payload: Buffer.from(lease.payload).toString(),
});

describe("redis queue", () => {
  it("agrees with the memory queue on every claim order, lease rule and count (model-based)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 10, maxLength: 40, size: "max" }),
        async (commands) => {
          const clock = new ManualClock();
          const prefix = freshPrefix();
          const model: Side = {
            queue: createMemoryQueue({ clock, queueName: "model" }),
            leases: [],
          };
          const real: Side = {
            queue: createRedisQueue({ url: redisUrl, prefix, queueName: "model", clock }),
            leases: [],
          };
          try {
            for (const step of commands) {
              if (step.kind === "advance") {
                await clock.advance(step.ms);
                continue;
              }
              const results: unknown[] = [];
              for (const side of [model, real]) {
                const { queue, leases } = side;
                if (step.kind === "enqueue") {
                  results.push(
                    await outcome(() =>
                      queue.enqueue({
                        id: step.id,
                        payload: utf8(`payload ${step.id}`),
                        priority: step.priority,
                        availableAt: clock.now() + step.delay,
                        ...(step.partition === undefined ? {} : { partitionKey: step.partition }),
                      }),
                    ),
                  );
                } else if (step.kind === "claim") {
                  const claimed = await queue.claim({
                    limit: step.limit,
                    leaseMs: step.leaseMs,
                    ...(step.partition === undefined ? {} : { partitionKey: step.partition }),
                  });
                  leases.push(...claimed);
                  results.push(claimed.map(strip));
                } else {
                  const lease = leases[step.pick % Math.max(1, leases.length)];
                  if (lease === undefined) continue;
                  const ref = { id: lease.id, leaseId: lease.leaseId };
                  results.push(
                    await outcome(() =>
                      step.kind === "ack"
                        ? queue.ack(ref)
                        : step.kind === "retry"
                          ? queue.retry(ref, { availableAt: clock.now() + step.delay })
                          : queue.extend(ref, 100),
                    ),
                  );
                }
                results.push(await queue.counts());
                results.push(await queue.nextAvailableAt());
                results.push(await queue.nextAvailableAt("a"));
              }
              const half = results.length / 2;
              expect(results.slice(half), JSON.stringify(step)).toEqual(results.slice(0, half));
            }
          } finally {
            await model.queue.close();
            await real.queue.close();
            await deleteKeys(prefix);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("orders extreme priorities and times exactly (no float packing)", async () => {
    // ULIDs (ids, lease ids) encode at most 2^48 - 1 ms; availableAt goes up to 2^53 - 1.
    const clock = new ManualClock(2 ** 48 - 1000);
    const queue = createRedisQueue({ url: redisUrl, prefix: freshPrefix(), queueName: "x", clock });
    try {
      const now = clock.now();
      await queue.enqueueMany([
        { id: "late-top", payload: utf8(""), priority: MAX_PRIORITY, availableAt: now - 1 },
        { id: "early-top", payload: utf8(""), priority: MAX_PRIORITY, availableAt: now - 2 },
        { id: "bottom", payload: utf8(""), priority: MIN_PRIORITY, availableAt: 0 },
        { id: "next-to-top", payload: utf8(""), priority: MAX_PRIORITY - 1, availableAt: 0 },
        { id: "future", payload: utf8(""), priority: MAX_PRIORITY, availableAt: now + 10 },
        {
          id: "last",
          payload: utf8(""),
          availableAt: Number.MAX_SAFE_INTEGER,
          partitionKey: "far",
        },
      ]);
      const claimed = await queue.claim({ limit: 10, leaseMs: 1 });
      expect(claimed.map((lease) => lease.id)).toEqual([
        "early-top",
        "late-top",
        "next-to-top",
        "bottom",
      ]);
      expect(await queue.nextAvailableAt()).toBe(now + 1);
      expect(await queue.nextAvailableAt("far")).toBe(Number.MAX_SAFE_INTEGER);
    } finally {
      await queue.close();
    }
  });

  it("leaves only its counters behind once every item is acknowledged", async () => {
    const prefix = freshPrefix();
    const clock = new ManualClock();
    const queue = createRedisQueue({ url: redisUrl, prefix, queueName: "clean", clock });
    const admin = openAdminClient();
    await connectOrFail(admin);
    try {
      await queue.enqueueMany([
        { id: "a", payload: utf8("a"), partitionKey: "p" },
        { id: "b", payload: utf8("b"), availableAt: clock.now() + 50 },
      ]);
      await clock.advance(50);
      const leases = await queue.claim({ limit: 5, leaseMs: 10 });
      await clock.advance(20);
      const again = await queue.claim({ limit: 5, leaseMs: 10, partitionKey: "p" });
      expect(again.map((lease) => [lease.id, lease.attempts])).toEqual([["a", 2]]);
      const [stale] = leases.filter((lease) => lease.id === "a");
      await expect(queue.ack(stale as Lease)).rejects.toMatchObject({ code: "LEASE_LOST" });
      for (const lease of [...leases.filter((lease) => lease.id === "b"), ...again]) {
        await queue.ack(lease);
      }
      expect(await admin.keys(`${prefix}*`)).toEqual([redisQueueKeys("clean", prefix).meta]);
      expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
    } finally {
      await queue.close();
      await admin.quit();
    }
  });
});
