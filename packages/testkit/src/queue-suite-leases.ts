import { type Lease, type Queue, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError, text } from "./assertions.js";
import { ids, type QueueSuiteScope } from "./queue-suite-scope.js";

/** Registers the Queue conformance tests for leases under concurrent claimers, expiry, LEASE_LOST, retry and extend. */
export function describeQueueLeases(scope: QueueSuiteScope): void {
  const { open, peer, clock, timeout } = scope;
  describe("leases", () => {
    it(
      "two claimers racing over many rounds never hold the same item and deliver every item once",
      async () => {
        const queue = await open();
        const other = await peer();
        const total = 60;
        await queue.enqueueMany(
          Array.from({ length: total }, (_, i) => ({
            id: `item-${i}`,
            payload: bytes(String(i)),
          })),
        );
        const deliveries = new Map<string, number>();
        const doubleHeld: string[] = [];
        for (let round = 0; round < 100 && deliveries.size < total; round++) {
          const batches = await Promise.all(
            [queue, other, queue, other, queue, other].map((handle) =>
              handle.claim({ limit: 3, leaseMs: 60_000 }),
            ),
          );
          const heldNow = new Set<string>();
          for (const lease of batches.flat()) {
            if (heldNow.has(lease.id)) doubleHeld.push(lease.id);
            heldNow.add(lease.id);
            deliveries.set(lease.id, (deliveries.get(lease.id) ?? 0) + 1);
            expect(text(lease.payload)).toBe(lease.id.slice("item-".length));
          }
          await Promise.all(
            batches.map((batch, i) =>
              Promise.all(batch.map((lease) => (i % 2 === 0 ? queue : other).ack(lease))),
            ),
          );
        }
        expect(doubleHeld).toEqual([]);
        expect(deliveries.size).toBe(total);
        expect([...deliveries.values()].every((count) => count === 1)).toBe(true);
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "with leases lapsing under racing claimers, only an item's latest lease can ack it",
      async () => {
        const queue = await open();
        const other = await peer();
        const total = 30;
        await queue.enqueueMany(
          Array.from({ length: total }, (_, i) => ({ id: `item-${i}`, payload: bytes("x") })),
        );
        // The model: an ack succeeds iff its lease is the latest one handed out for the item and
        // the item was not acknowledged yet.
        const latestLease = new Map<string, string>();
        const acked = new Set<string>();
        const wrong: string[] = [];
        let staleAcks = 0;
        const ackAndCheck = async (handle: Queue, lease: Lease) => {
          const expected = latestLease.get(lease.id) === lease.leaseId && !acked.has(lease.id);
          let succeeded = true;
          try {
            await handle.ack(lease);
          } catch (error) {
            if (!TroupeError.isInstance(error, "LEASE_LOST")) throw error;
            succeeded = false;
            staleAcks++;
          }
          if (succeeded) acked.add(lease.id);
          if (succeeded !== expected) {
            wrong.push(
              `${lease.id} lease ${lease.leaseId}: ack ${succeeded ? "succeeded" : "failed"}`,
            );
          }
        };
        const held: Lease[] = [];
        for (let round = 0; round < 200 && acked.size < total; round++) {
          const claims = await Promise.all(
            [queue, other, queue, other].map((handle) => handle.claim({ limit: 2, leaseMs: 100 })),
          );
          const fresh = claims.flat();
          expect(new Set(ids(fresh)).size, "an item was handed to two claimers at once").toBe(
            fresh.length,
          );
          for (const lease of fresh) latestLease.set(lease.id, lease.leaseId);
          // Ack every third fresh lease at once; keep the others until their leases lapsed (and
          // the item was maybe re-claimed), then ack them late.
          for (const [i, lease] of fresh.entries()) {
            if (i % 3 === 0) await ackAndCheck(i % 2 === 0 ? queue : other, lease);
            else held.push(lease);
          }
          await clock().advance(100);
          if (round % 2 === 1) {
            for (const lease of held.splice(0)) await ackAndCheck(other, lease);
          }
        }
        expect(wrong).toEqual([]);
        expect(acked.size).toBe(total);
        expect(staleAcks, "the scenario should produce stale acks").toBeGreaterThan(0);
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "a lapsed lease makes the item claimable again with attempts+1 and a new leaseId",
      async () => {
        const queue = await open();
        const other = await peer();
        const t0 = clock().now();
        await queue.enqueue({ id: "job", payload: bytes("work") });
        const [first] = await queue.claim({ limit: 1, leaseMs: 1000 });
        expect(first?.attempts).toBe(1);
        await clock().advance(999);
        expect(await other.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await clock().advance(1);
        const [second] = await other.claim({ limit: 1, leaseMs: 1000 });
        expect(second?.id).toBe("job");
        expect(second?.attempts).toBe(2);
        expect(second?.leaseId).not.toBe(first?.leaseId);
        expect(second?.leaseExpiresAt).toBe(t0 + 2000);
        expect(text(second?.payload)).toBe("work");
        const stale = first as Lease;
        await expectTroupeError(() => queue.ack(stale), "LEASE_LOST");
        await expectTroupeError(() => queue.retry(stale), "LEASE_LOST");
        await expectTroupeError(() => queue.extend(stale, 5000), "LEASE_LOST");
        const item = await queue.get("job");
        expect(item).toMatchObject({ state: "leased", attempts: 2 });
        await other.ack(second as Lease);
        expect(await queue.get("job")).toBeUndefined();
      },
      timeout,
    );

    it(
      "a lapsed lease that nobody re-claimed can still be acknowledged",
      async () => {
        const queue = await open();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        await clock().advance(5000);
        await queue.ack(lease as Lease);
        expect(await queue.get("job")).toBeUndefined();
        expect(await queue.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
      },
      timeout,
    );

    it(
      "a lapsed lease that nobody re-claimed can still be extended, which hides the item again",
      async () => {
        const queue = await open();
        const other = await peer();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        await clock().advance(2000);
        const expiry = await queue.extend(lease as Lease, 1000);
        expect(expiry).toBe(clock().now() + 1000);
        expect(await other.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await queue.ack(lease as Lease);
      },
      timeout,
    );

    it(
      "extend pushes the expiry: the item is not claimable before the new expiry",
      async () => {
        const queue = await open();
        const other = await peer();
        const t0 = clock().now();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        await clock().advance(800);
        expect(await queue.extend(lease as Lease, 1000)).toBe(t0 + 1800);
        await clock().advance(200);
        expect(await other.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        expect(await queue.nextAvailableAt()).toBe(t0 + 1800);
        await clock().advance(799);
        expect(await other.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await clock().advance(1);
        const [again] = await other.claim({ limit: 1, leaseMs: 1000 });
        expect(again?.attempts).toBe(2);
        await expectTroupeError(() => queue.ack(lease as Lease), "LEASE_LOST");
      },
      timeout,
    );

    it(
      "the holder can extend and then ack with the same lease",
      async () => {
        const queue = await open();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        await queue.extend(lease as Lease, 60_000);
        await queue.extend(lease as Lease, 60_000);
        await queue.ack(lease as Lease);
        expect(await queue.get("job")).toBeUndefined();
      },
      timeout,
    );

    it(
      "retry with availableAt delays the item and keeps its attempts",
      async () => {
        const queue = await open();
        const t0 = clock().now();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
        await queue.retry(lease as Lease, { availableAt: t0 + 500 });
        expect(await queue.get("job")).toMatchObject({
          state: "waiting",
          attempts: 1,
          availableAt: t0 + 500,
          enqueuedAt: t0,
        });
        expect(await queue.nextAvailableAt()).toBe(t0 + 500);
        await expectTroupeError(() => queue.ack(lease as Lease), "LEASE_LOST");
        await clock().advance(499);
        expect(await queue.claim({ limit: 1, leaseMs: 1000 })).toEqual([]);
        await clock().advance(1);
        const [again] = await queue.claim({ limit: 1, leaseMs: 1000 });
        expect(again?.attempts).toBe(2);
        expect(again?.leaseId).not.toBe(lease?.leaseId);
      },
      timeout,
    );

    it(
      "retry without options makes the item claimable at once",
      async () => {
        const queue = await open();
        const other = await peer();
        await queue.enqueue({ id: "job", payload: bytes("x") });
        const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
        await queue.retry(lease as Lease);
        const [again] = await other.claim({ limit: 1, leaseMs: 60_000 });
        expect(again?.id).toBe("job");
        expect(again?.attempts).toBe(2);
      },
      timeout,
    );
  });
}
