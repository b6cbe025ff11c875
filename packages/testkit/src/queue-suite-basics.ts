import { type EnqueueItem, type Lease, MAX_PRIORITY, MIN_PRIORITY } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError, text } from "./assertions.js";
import { ids, type QueueSuiteScope, sortedIds } from "./queue-suite-scope.js";

/** Registers the Queue conformance tests for enqueue/claim/ack, dedupe, availability and claim order. */
export function describeQueueBasics(scope: QueueSuiteScope): void {
  const { open, peer, clock, timeout } = scope;
  describe("enqueue, claim, ack", () => {
    it(
      "an enqueued item is claimed under a lease and gone after ack",
      async () => {
        const queue = await open();
        const t0 = clock().now();
        expect(await queue.enqueue({ id: "job-1", payload: bytes("hello") })).toEqual({
          id: "job-1",
          created: true,
        });
        const leases = await queue.claim({ limit: 10, leaseMs: 1000 });
        expect(leases).toHaveLength(1);
        const lease = leases[0] as Lease;
        expect(lease).toMatchObject({
          id: "job-1",
          priority: 0,
          partitionKey: undefined,
          availableAt: t0,
          enqueuedAt: t0,
          attempts: 1,
          state: "leased",
          leaseExpiresAt: t0 + 1000,
        });
        expect(text(lease.payload)).toBe("hello");
        expect(typeof lease.leaseId === "string" && lease.leaseId.length > 0).toBe(true);
        expect(await queue.claim({ limit: 10, leaseMs: 1000 })).toEqual([]);
        await queue.ack(lease);
        expect(await queue.get("job-1")).toBeUndefined();
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
        await expectTroupeError(() => queue.ack(lease), "LEASE_LOST");
      },
      timeout,
    );

    it(
      "claim on an empty queue resolves to an empty array",
      async () => {
        const queue = await open();
        expect(await queue.claim({ limit: 5, leaseMs: 1000 })).toEqual([]);
      },
      timeout,
    );

    it(
      "items without an id get distinct generated ids",
      async () => {
        const queue = await open();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => queue.enqueue({ payload: bytes(String(i)) })),
        );
        const generated = results.map((result) => result.id);
        expect(results.every((result) => result.created)).toBe(true);
        expect(new Set(generated).size).toBe(20);
        expect(generated.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
        expect(text((await queue.get(generated[7] as string))?.payload)).toBe("7");
      },
      timeout,
    );

    it(
      "claim returns at most `limit` items and each item once",
      async () => {
        const queue = await open();
        await queue.enqueueMany(
          Array.from({ length: 5 }, (_, i) => ({ id: `i${i}`, payload: bytes("x") })),
        );
        const first = await queue.claim({ limit: 3, leaseMs: 1000 });
        const second = await queue.claim({ limit: 3, leaseMs: 1000 });
        expect(first).toHaveLength(3);
        expect(second).toHaveLength(2);
        expect([...ids(first), ...ids(second)].sort()).toEqual(["i0", "i1", "i2", "i3", "i4"]);
      },
      timeout,
    );
  });

  describe("dedupe", () => {
    it(
      "enqueueing an id that is queued returns created:false and keeps the first payload",
      async () => {
        const queue = await open();
        await queue.enqueue({ id: "same", payload: bytes("first"), priority: 1 });
        expect(await queue.enqueue({ id: "same", payload: bytes("second"), priority: 9 })).toEqual({
          id: "same",
          created: false,
        });
        expect(await queue.counts()).toEqual({ waiting: 1, leased: 0 });
        const item = await queue.get("same");
        expect(text(item?.payload)).toBe("first");
        expect(item?.priority).toBe(1);
      },
      timeout,
    );

    it(
      "an id stays deduped while leased and can be reused after ack",
      async () => {
        const queue = await open();
        await queue.enqueue({ id: "same", payload: bytes("first") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        expect((await queue.enqueue({ id: "same", payload: bytes("second") })).created).toBe(false);
        expect((await queue.get("same"))?.state).toBe("leased");
        await queue.ack(lease as Lease);
        expect((await queue.enqueue({ id: "same", payload: bytes("third") })).created).toBe(true);
        const item = await queue.get("same");
        expect(text(item?.payload)).toBe("third");
        expect(item?.attempts).toBe(0);
        expect(item?.state).toBe("waiting");
      },
      timeout,
    );

    it(
      "enqueueMany returns results in order, deduping within the call and against the queue",
      async () => {
        const queue = await open();
        await queue.enqueue({ id: "existing", payload: bytes("old") });
        const results = await queue.enqueueMany([
          { id: "a", payload: bytes("a1") },
          { id: "existing", payload: bytes("new") },
          { id: "b", payload: bytes("b1") },
          { id: "a", payload: bytes("a2") },
        ]);
        expect(results).toEqual([
          { id: "a", created: true },
          { id: "existing", created: false },
          { id: "b", created: true },
          { id: "a", created: false },
        ]);
        expect(text((await queue.get("a"))?.payload)).toBe("a1");
        expect(text((await queue.get("existing"))?.payload)).toBe("old");
        expect(await queue.counts()).toEqual({ waiting: 3, leased: 0 });
        expect(await queue.enqueueMany([])).toEqual([]);
      },
      timeout,
    );

    it(
      "enqueueMany is all or nothing: one invalid item enqueues none",
      async () => {
        const queue = await open();
        await expectTroupeError(
          () =>
            queue.enqueueMany([
              { id: "ok-1", payload: bytes("1") },
              { id: "ok-2", payload: bytes("2") },
              { id: "bad", payload: "not bytes" as unknown as Uint8Array },
            ]),
          "INVALID_ARGUMENT",
          "items[2].payload",
        );
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
        expect(await queue.get("ok-1")).toBeUndefined();
      },
      timeout,
    );
  });

  describe("availability and order", () => {
    it(
      "a delayed item is not claimable before availableAt and is at availableAt",
      async () => {
        const queue = await open();
        const t0 = clock().now();
        await queue.enqueue({ id: "later", payload: bytes("x"), availableAt: t0 + 1000 });
        expect(await queue.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await clock().advance(999);
        expect(await queue.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await clock().advance(1);
        const leases = await queue.claim({ limit: 1, leaseMs: 1000 });
        expect(ids(leases)).toEqual(["later"]);
        expect(leases[0]?.availableAt).toBe(t0 + 1000);
      },
      timeout,
    );

    it(
      "claims go by priority (high first), then availableAt, then enqueue order",
      async () => {
        const queue = await open();
        const other = await peer();
        const t0 = clock().now();
        const items: EnqueueItem[] = [
          { id: "A", payload: bytes("A") },
          { id: "B", payload: bytes("B"), priority: 5 },
          { id: "C", payload: bytes("C"), priority: 5, availableAt: t0 - 100 },
          { id: "D", payload: bytes("D"), availableAt: t0 - 50 },
          { id: "E", payload: bytes("E") },
          { id: "F", payload: bytes("F"), priority: -3, availableAt: t0 - 1000 },
          { id: "G", payload: bytes("G"), priority: 9, availableAt: t0 + 1 },
          { id: "H", payload: bytes("H"), availableAt: t0 },
          { id: "MAX", payload: bytes("MAX"), priority: MAX_PRIORITY },
          { id: "MIN", payload: bytes("MIN"), priority: MIN_PRIORITY, availableAt: 0 },
        ];
        for (const item of items) await queue.enqueue(item);
        const order: string[] = [];
        for (let i = 0; i < items.length; i++) {
          const [lease] = await (i % 2 === 0 ? queue : other).claim({
            limit: 1,
            leaseMs: 60_000,
          });
          if (!lease) break;
          order.push(lease.id);
        }
        expect(order).toEqual(["MAX", "C", "B", "D", "A", "E", "H", "F", "MIN"]);
        await clock().advance(1);
        expect(ids(await queue.claim({ limit: 5, leaseMs: 60_000 }))).toEqual(["G"]);
      },
      timeout,
    );

    it(
      "one claim of several items takes the highest-ranked ones",
      async () => {
        const queue = await open();
        await queue.enqueueMany([
          { id: "low-1", payload: bytes("x"), priority: -1 },
          { id: "top-1", payload: bytes("x"), priority: 10 },
          { id: "mid", payload: bytes("x") },
          { id: "top-2", payload: bytes("x"), priority: 10 },
          { id: "low-2", payload: bytes("x"), priority: -1 },
        ]);
        expect(sortedIds(await queue.claim({ limit: 3, leaseMs: 1000 }))).toEqual([
          "mid",
          "top-1",
          "top-2",
        ]);
        expect(sortedIds(await queue.claim({ limit: 3, leaseMs: 1000 }))).toEqual([
          "low-1",
          "low-2",
        ]);
      },
      timeout,
    );
  });
}
