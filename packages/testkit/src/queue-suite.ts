import {
  type EnqueueItem,
  type Lease,
  MAX_PRIORITY,
  MIN_PRIORITY,
  type Queue,
  TroupeError,
} from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  bytes,
  createRandom,
  DEFAULT_TEST_TIMEOUT_MS,
  expectBytes,
  expectTroupeError,
  pseudoRandomBytes,
  text,
} from "./assertions.js";
import { useHarness } from "./harness.js";
import type { SuiteContext } from "./suite-context.js";

/** How `describeQueue` opens and removes the queue under test. */
export interface QueueSuiteOptions {
  /** A fresh, empty queue; must use `context.clock` and a queue name derived from `context.id`. */
  create(context: SuiteContext): Queue | Promise<Queue>;
  /** A second claimer on the same queue (another connection, same clock). Default: the same instance. */
  openPeer?(context: SuiteContext): Queue | Promise<Queue>;
  /** For persistent adapters: open the same queue again after it was closed. Turns on durability tests. */
  reopen?(context: SuiteContext): Queue | Promise<Queue>;
  /** Remove what `create` made, after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

const ids = (leases: readonly { id: string }[]) => leases.map((lease) => lease.id);
const sortedIds = (leases: readonly { id: string }[]) => ids(leases).sort();

/**
 * Registers the Queue conformance suite: enqueue/claim/ack, dedupe, delays, claim order, leases
 * under concurrent claimers, lease expiry and LEASE_LOST, retry, extend, remove, inspection,
 * partitions, validation, closing and (with `reopen`) durability. Time moves only through
 * `context.clock`, so nothing sleeps. Call it at the top level of a vitest test file.
 */
export function describeQueue(adapterName: string, options: QueueSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Queue conformance`, () => {
    const harness = useHarness<Queue>(options, timeout);
    const open = () => harness().main();
    const peer = () => harness().peer();
    const clock = () => harness().context.clock;

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
          expect(
            await queue.enqueue({ id: "same", payload: bytes("second"), priority: 9 }),
          ).toEqual({
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
          expect((await queue.enqueue({ id: "same", payload: bytes("second") })).created).toBe(
            false,
          );
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
              [queue, other, queue, other].map((handle) =>
                handle.claim({ limit: 2, leaseMs: 100 }),
              ),
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

    describe("remove and inspection", () => {
      it(
        "remove deletes waiting and leased items; the lease is then lost",
        async () => {
          const queue = await open();
          const t0 = clock().now();
          await queue.enqueue({ id: "delayed", payload: bytes("x"), availableAt: t0 + 10_000 });
          await queue.enqueue({ id: "held", payload: bytes("y") });
          const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
          expect(lease?.id).toBe("held");
          expect(await queue.remove("delayed")).toBe(true);
          expect(await queue.remove("held")).toBe(true);
          expect(await queue.remove("held")).toBe(false);
          expect(await queue.remove("never")).toBe(false);
          await expectTroupeError(() => queue.ack(lease as Lease), "LEASE_LOST");
          expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
          await clock().advance(20_000);
          expect(await queue.claim({ limit: 5, leaseMs: 1000 })).toEqual([]);
          expect((await queue.enqueue({ id: "held", payload: bytes("z") })).created).toBe(true);
        },
        timeout,
      );

      it(
        "get reports an item's fields, state and attempts as it moves",
        async () => {
          const queue = await open();
          const t0 = clock().now();
          expect(await queue.get("missing")).toBeUndefined();
          await queue.enqueue({
            id: "job",
            payload: bytes("p"),
            priority: 3,
            partitionKey: "tenant-1",
          });
          const waiting = await queue.get("job");
          expect(waiting).toMatchObject({
            id: "job",
            priority: 3,
            partitionKey: "tenant-1",
            availableAt: t0,
            enqueuedAt: t0,
            attempts: 0,
            state: "waiting",
          });
          expect(text(waiting?.payload)).toBe("p");
          await clock().advance(10);
          const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
          expect(await queue.get("job")).toMatchObject({
            state: "leased",
            attempts: 1,
            enqueuedAt: t0,
          });
          await queue.retry(lease as Lease, { availableAt: t0 + 100 });
          expect(await queue.get("job")).toMatchObject({
            state: "waiting",
            attempts: 1,
            availableAt: t0 + 100,
          });
        },
        timeout,
      );

      it(
        "nextAvailableAt gives the earliest availableAt or lease expiry, per partition",
        async () => {
          const queue = await open();
          const t0 = clock().now();
          expect(await queue.nextAvailableAt()).toBeUndefined();
          await queue.enqueue({
            id: "p1",
            payload: bytes("x"),
            availableAt: t0 + 5000,
            partitionKey: "one",
          });
          await queue.enqueue({
            id: "p2",
            payload: bytes("x"),
            availableAt: t0 + 3000,
            partitionKey: "two",
          });
          expect(await queue.nextAvailableAt()).toBe(t0 + 3000);
          expect(await queue.nextAvailableAt("one")).toBe(t0 + 5000);
          expect(await queue.nextAvailableAt("two")).toBe(t0 + 3000);
          expect(await queue.nextAvailableAt("three")).toBeUndefined();
          await clock().advance(3000);
          const [lease] = await queue.claim({ limit: 1, leaseMs: 10_000 });
          expect(lease?.id).toBe("p2");
          expect(await queue.nextAvailableAt()).toBe(t0 + 5000);
          expect(await queue.nextAvailableAt("two")).toBe(t0 + 13_000);
          await clock().advance(4000);
          // A due item reports its (past) availableAt: a worker should claim now.
          expect(await queue.nextAvailableAt("one")).toBe(t0 + 5000);
          await queue.ack(lease as Lease);
          expect(await queue.nextAvailableAt("two")).toBeUndefined();
          await queue.remove("p1");
          expect(await queue.nextAvailableAt()).toBeUndefined();
        },
        timeout,
      );

      it(
        "counts tell waiting (due or delayed) from leased items, lapsed leases included",
        async () => {
          const queue = await open();
          const t0 = clock().now();
          expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
          await queue.enqueueMany([
            { id: "a", payload: bytes("x"), priority: 1 },
            { id: "b", payload: bytes("x") },
            { id: "c", payload: bytes("x"), availableAt: t0 + 60_000 },
          ]);
          expect(await queue.counts()).toEqual({ waiting: 3, leased: 0 });
          const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
          expect(await queue.counts()).toEqual({ waiting: 2, leased: 1 });
          await clock().advance(2000);
          expect(await queue.counts()).toEqual({ waiting: 2, leased: 1 });
          await queue.ack(lease as Lease);
          expect(await queue.counts()).toEqual({ waiting: 2, leased: 0 });
        },
        timeout,
      );

      it(
        "a claim limited to a partition returns only that partition's items, in order",
        async () => {
          const queue = await open();
          await queue.enqueueMany([
            { id: "one-a", payload: bytes("x"), partitionKey: "one" },
            { id: "two-a", payload: bytes("x"), partitionKey: "two", priority: 50 },
            { id: "one-b", payload: bytes("x"), partitionKey: "one", priority: 5 },
            { id: "none", payload: bytes("x"), priority: 100 },
            { id: "one-c", payload: bytes("x"), partitionKey: "one" },
          ]);
          expect(ids(await queue.claim({ limit: 1, leaseMs: 1000, partitionKey: "one" }))).toEqual([
            "one-b",
          ]);
          expect(
            sortedIds(await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "one" })),
          ).toEqual(["one-a", "one-c"]);
          expect(await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "three" })).toEqual(
            [],
          );
          expect(ids(await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "two" }))).toEqual(
            ["two-a"],
          );
          expect(ids(await queue.claim({ limit: 10, leaseMs: 1000 }))).toEqual(["none"]);
        },
        timeout,
      );
    });

    describe("isolation", () => {
      it(
        "queues with different names are independent: items, ids and claims do not cross",
        async () => {
          const queue = await open();
          const sibling = await harness().sibling("b");
          expect(sibling.queueName).not.toBe(queue.queueName);
          await queue.enqueue({ id: "shared-id", payload: bytes("in a") });
          expect(await sibling.enqueue({ id: "shared-id", payload: bytes("in b") })).toEqual({
            id: "shared-id",
            created: true,
          });
          await sibling.enqueue({ id: "only-b", payload: bytes("b"), priority: 5 });
          const fromA = await queue.claim({ limit: 10, leaseMs: 1000 });
          expect(ids(fromA)).toEqual(["shared-id"]);
          expect(text(fromA[0]?.payload)).toBe("in a");
          expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
          expect(await sibling.counts()).toEqual({ waiting: 2, leased: 0 });
          await expectTroupeError(() => sibling.ack(fromA[0] as Lease), "LEASE_LOST");
          expect(await sibling.remove("shared-id")).toBe(true);
          expect((await queue.get("shared-id"))?.state).toBe("leased");
          expect(await queue.nextAvailableAt()).toBe(clock().now() + 1000);
          expect(await sibling.nextAvailableAt()).toBe(clock().now());
        },
        timeout,
      );
    });

    describe("payloads and validation", () => {
      it(
        "payload bytes round-trip exactly, empty payloads and zero bytes included",
        async () => {
          const queue = await open();
          const big = pseudoRandomBytes(64 * 1024);
          await queue.enqueue({ id: "big", payload: big, priority: 1 });
          await queue.enqueue({ id: "empty", payload: new Uint8Array(0) });
          expectBytes((await queue.get("big"))?.payload, big, "get big");
          const leases = await queue.claim({ limit: 2, leaseMs: 1000 });
          const byId = new Map(leases.map((lease) => [lease.id, lease]));
          expectBytes(byId.get("big")?.payload, big, "claimed big");
          expectBytes(byId.get("empty")?.payload, new Uint8Array(0), "claimed empty");
        },
        timeout,
      );

      it(
        "large batches work: enqueueMany of 1,000 items and one claim of 1,000",
        async () => {
          const queue = await open();
          const results = await queue.enqueueMany(
            Array.from({ length: 1000 }, (_, i) => ({
              id: `bulk-${i}`,
              payload: bytes(String(i)),
            })),
          );
          expect(results.every((result, i) => result.id === `bulk-${i}` && result.created)).toBe(
            true,
          );
          const leases = await (await peer()).claim({ limit: 1000, leaseMs: 60_000 });
          expect(new Set(ids(leases)).size).toBe(1000);
          expect(
            leases.every((lease) => text(lease.payload) === lease.id.slice("bulk-".length)),
          ).toBe(true);
          expect(await queue.counts()).toEqual({ waiting: 0, leased: 1000 });
        },
        timeout,
      );

      it(
        "payloads are copies: mutating the input or a returned payload changes nothing stored",
        async () => {
          const queue = await open();
          const input = bytes("original");
          await queue.enqueue({ id: "job", payload: input });
          input.fill(0x21);
          const item = await queue.get("job");
          expect(text(item?.payload)).toBe("original");
          item?.payload.fill(0x3f);
          const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
          expect(text(lease?.payload)).toBe("original");
          const view = bytes("xxhelloxx").subarray(2, 7);
          await queue.enqueue({ id: "view", payload: view });
          expectBytes((await queue.get("view"))?.payload, bytes("hello"), "view payload");
        },
        timeout,
      );

      it(
        "invalid items are rejected with INVALID_ARGUMENT naming the field",
        async () => {
          const queue = await open();
          const payload = bytes("x");
          const cases: [unknown, string][] = [
            [{ payload: "text" }, "payload"],
            [{ payload: undefined }, "payload"],
            [{ payload, priority: MAX_PRIORITY + 1 }, "priority"],
            [{ payload, priority: MIN_PRIORITY - 1 }, "priority"],
            [{ payload, priority: 1.5 }, "priority"],
            [{ payload, priority: Number.NaN }, "priority"],
            [{ payload, id: "" }, "id"],
            [{ payload, id: "x".repeat(513) }, "id"],
            [{ payload, id: 42 }, "id"],
            [{ payload, availableAt: -1 }, "availableAt"],
            [{ payload, availableAt: 1.5 }, "availableAt"],
            [{ payload, partitionKey: "" }, "partitionKey"],
          ];
          for (const [item, field] of cases) {
            await expectTroupeError(
              () => queue.enqueue(item as EnqueueItem),
              "INVALID_ARGUMENT",
              field,
            );
            await expectTroupeError(
              () => queue.enqueueMany([{ payload }, item as EnqueueItem]),
              "INVALID_ARGUMENT",
              `items[1].${field}`,
            );
          }
          expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
        },
        timeout,
      );

      it(
        "invalid claim, extend, retry and lease arguments are rejected naming the field",
        async () => {
          const queue = await open();
          await expectTroupeError(
            () => queue.claim({ limit: 0, leaseMs: 1000 }),
            "INVALID_ARGUMENT",
            "claim.limit",
          );
          await expectTroupeError(
            () => queue.claim({ limit: 1.5, leaseMs: 1000 }),
            "INVALID_ARGUMENT",
            "claim.limit",
          );
          await expectTroupeError(
            () => queue.claim({ limit: 1, leaseMs: 0 }),
            "INVALID_ARGUMENT",
            "claim.leaseMs",
          );
          await expectTroupeError(
            () => queue.claim({ limit: 1, leaseMs: -5 }),
            "INVALID_ARGUMENT",
            "claim.leaseMs",
          );
          await expectTroupeError(
            () => queue.claim({ limit: 1, leaseMs: 1000, partitionKey: "" }),
            "INVALID_ARGUMENT",
            "claim.partitionKey",
          );
          await queue.enqueue({ id: "job", payload: bytes("x") });
          const [lease] = await queue.claim({ limit: 1, leaseMs: 1000 });
          const held = lease as Lease;
          await expectTroupeError(() => queue.extend(held, 0), "INVALID_ARGUMENT", "leaseMs");
          await expectTroupeError(() => queue.extend(held, 2.5), "INVALID_ARGUMENT", "leaseMs");
          await expectTroupeError(
            () => queue.retry(held, { availableAt: -5 }),
            "INVALID_ARGUMENT",
            "retry.availableAt",
          );
          await expectTroupeError(
            () => queue.ack({ id: "", leaseId: held.leaseId }),
            "INVALID_ARGUMENT",
            "lease.id",
          );
          await expectTroupeError(
            () => queue.ack({ id: "job", leaseId: "" }),
            "INVALID_ARGUMENT",
            "lease.leaseId",
          );
          // The rejected calls changed nothing: the lease still holds.
          expect(await queue.get("job")).toMatchObject({ state: "leased", attempts: 1 });
          await queue.ack(held);
        },
        timeout,
      );
    });

    describe("against a reference model", () => {
      it(
        "random enqueues, claims, acks, retries, extends, removes and clock moves agree with a model",
        async () => {
          const queue = await open();
          const other = await peer();
          const random = createRandom(0x5eed_0002);
          interface ModelItem {
            priority: number;
            partitionKey: string | undefined;
            availableAt: number;
            attempts: number;
            leaseId: string | undefined;
            leaseExpiresAt: number;
          }
          const pool = Array.from({ length: 8 }, (_, i) => `job-${i}`);
          const model = new Map<string, ModelItem>();
          const leases: Lease[] = [];
          const now = () => clock().now();
          const claimableNow = (item: ModelItem) =>
            item.leaseId === undefined ? item.availableAt <= now() : item.leaseExpiresAt <= now();
          const isHeld = (lease: Lease) => model.get(lease.id)?.leaseId === lease.leaseId;
          // Runs `action`; expects it to succeed iff `allowed`, else to fail with LEASE_LOST.
          const leaseCall = async (
            allowed: boolean,
            action: () => Promise<unknown>,
            where: string,
          ) => {
            if (allowed) return await action();
            await expectTroupeError(action, "LEASE_LOST").catch((error: unknown) => {
              throw new Error(`${where}: expected LEASE_LOST (${String(error)})`);
            });
            return undefined;
          };
          for (let step = 0; step < 150; step++) {
            const handle = random.int(2) === 0 ? queue : other;
            const roll = random.int(100);
            const where = `step ${step} (t+${now() - Date.UTC(2026, 0, 1)})`;
            if (roll < 25) {
              const id = random.pick(pool);
              const priority = random.pick([-1, 0, 0, 1]);
              const availableAt = now() + random.pick([0, 0, 50, 120]);
              const partitionKey = random.pick([undefined, undefined, "p"]);
              const result = await handle.enqueue({
                id,
                payload: bytes(id),
                priority,
                availableAt,
                ...(partitionKey === undefined ? {} : { partitionKey }),
              });
              expect(result, where).toEqual({ id, created: !model.has(id) });
              if (result.created) {
                model.set(id, {
                  priority,
                  partitionKey,
                  availableAt,
                  attempts: 0,
                  leaseId: undefined,
                  leaseExpiresAt: 0,
                });
              }
            } else if (roll < 50) {
              const limit = 1 + random.int(3);
              const leaseMs = random.pick([40, 100]);
              const partitionKey = random.int(4) === 0 ? "p" : undefined;
              const claimable = [...model.entries()].filter(
                ([, item]) =>
                  claimableNow(item) &&
                  (partitionKey === undefined || item.partitionKey === partitionKey),
              );
              const claimed = await handle.claim({
                limit,
                leaseMs,
                ...(partitionKey === undefined ? {} : { partitionKey }),
              });
              expect(claimed.length, `${where}: claim(${limit}, ${partitionKey}) count`).toBe(
                Math.min(limit, claimable.length),
              );
              const claimedIds = new Set(ids(claimed));
              expect(claimedIds.size, where).toBe(claimed.length);
              for (const lease of claimed) {
                const item = model.get(lease.id);
                expect(item && claimableNow(item), `${where}: ${lease.id} was not claimable`).toBe(
                  true,
                );
                if (!item) continue;
                item.attempts++;
                item.leaseId = lease.leaseId;
                item.leaseExpiresAt = now() + leaseMs;
                expect([lease.attempts, lease.leaseExpiresAt, text(lease.payload)], where).toEqual([
                  item.attempts,
                  item.leaseExpiresAt,
                  lease.id,
                ]);
                leases.push(lease);
              }
              // Priority first: nothing left behind may outrank what was handed out.
              const lowestClaimed = Math.min(...claimed.map((lease) => lease.priority));
              const highestLeft = Math.max(
                ...claimable.filter(([id]) => !claimedIds.has(id)).map(([, item]) => item.priority),
              );
              if (claimed.length > 0)
                expect(lowestClaimed, `${where}: priority order`).toBeGreaterThanOrEqual(
                  highestLeft,
                );
            } else if (roll < 65 && leases.length > 0) {
              const lease = random.pick(leases);
              const allowed = isHeld(lease);
              await leaseCall(allowed, () => handle.ack(lease), `${where}: ack ${lease.id}`);
              if (allowed) model.delete(lease.id);
            } else if (roll < 73 && leases.length > 0) {
              const lease = random.pick(leases);
              const allowed = isHeld(lease);
              const availableAt = now() + random.pick([0, 30]);
              await leaseCall(
                allowed,
                () => handle.retry(lease, { availableAt }),
                `${where}: retry ${lease.id}`,
              );
              const item = model.get(lease.id);
              if (allowed && item) {
                item.leaseId = undefined;
                item.availableAt = availableAt;
              }
            } else if (roll < 80 && leases.length > 0) {
              const lease = random.pick(leases);
              const allowed = isHeld(lease);
              const expiry = await leaseCall(
                allowed,
                () => handle.extend(lease, 60),
                `${where}: extend ${lease.id}`,
              );
              const item = model.get(lease.id);
              if (allowed && item) {
                item.leaseExpiresAt = now() + 60;
                expect(expiry, where).toBe(item.leaseExpiresAt);
              }
            } else if (roll < 85) {
              const id = random.pick(pool);
              expect(await handle.remove(id), `${where}: remove ${id}`).toBe(model.has(id));
              model.delete(id);
            } else {
              await clock().advance(random.pick([10, 30, 60]));
            }
            const items = [...model.values()];
            expect(await queue.counts(), `${where}: counts`).toEqual({
              waiting: items.filter((item) => item.leaseId === undefined).length,
              leased: items.filter((item) => item.leaseId !== undefined).length,
            });
            if (step % 10 === 9) {
              for (const id of pool) {
                const item = model.get(id);
                const stored = await other.get(id);
                expect(
                  stored && [stored.state, stored.attempts, stored.priority, stored.partitionKey],
                  `${where}: get(${id})`,
                ).toEqual(
                  item && [
                    item.leaseId === undefined ? "waiting" : "leased",
                    item.attempts,
                    item.priority,
                    item.partitionKey,
                  ],
                );
              }
              const next = (partitionKey?: string) => {
                const times = items
                  .filter(
                    (item) => partitionKey === undefined || item.partitionKey === partitionKey,
                  )
                  .map((item) =>
                    item.leaseId === undefined ? item.availableAt : item.leaseExpiresAt,
                  );
                return times.length === 0 ? undefined : Math.min(...times);
              };
              expect(await queue.nextAvailableAt(), `${where}: nextAvailableAt()`).toBe(next());
              expect(await queue.nextAvailableAt("p"), `${where}: nextAvailableAt("p")`).toBe(
                next("p"),
              );
            }
          }
        },
        timeout,
      );
    });

    describe("closing", () => {
      it(
        "after close() every call fails with code CLOSED, and close is idempotent",
        async () => {
          const queue = await open();
          await queue.enqueue({ id: "job", payload: bytes("x") });
          await queue.close();
          await expectTroupeError(() => queue.enqueue({ payload: bytes("x") }), "CLOSED");
          await expectTroupeError(() => queue.enqueueMany([{ payload: bytes("x") }]), "CLOSED");
          await expectTroupeError(() => queue.claim({ limit: 1, leaseMs: 1000 }), "CLOSED");
          await expectTroupeError(() => queue.get("job"), "CLOSED");
          await expectTroupeError(() => queue.counts(), "CLOSED");
          await expectTroupeError(() => queue.nextAvailableAt(), "CLOSED");
          await expectTroupeError(() => queue.remove("job"), "CLOSED");
          await queue.close();
        },
        timeout,
      );
    });

    if (options.reopen) {
      describe("durability", () => {
        it(
          "items, leases, attempts and dedupe survive close and reopen",
          async () => {
            const queue = await open();
            const t0 = clock().now();
            const payload = pseudoRandomBytes(1000);
            await queue.enqueueMany([
              { id: "held", payload: bytes("h"), priority: 10 },
              { id: "lapsing", payload: bytes("l"), priority: 9 },
              { id: "delayed", payload, priority: 7, partitionKey: "p", availableAt: t0 + 5000 },
              { id: "waiting", payload: bytes("w") },
            ]);
            const [held] = await queue.claim({ limit: 1, leaseMs: 60_000 });
            const [lapsing] = await queue.claim({ limit: 1, leaseMs: 1000 });
            expect([held?.id, lapsing?.id]).toEqual(["held", "lapsing"]);
            const reopened = await harness().reopen();
            expect(reopened.queueName).toBe(queue.queueName);
            expect(await reopened.counts()).toEqual({ waiting: 2, leased: 2 });
            expect(await reopened.get("held")).toMatchObject({ state: "leased", attempts: 1 });
            const delayed = await reopened.get("delayed");
            expect(delayed).toMatchObject({
              state: "waiting",
              attempts: 0,
              priority: 7,
              partitionKey: "p",
              availableAt: t0 + 5000,
              enqueuedAt: t0,
            });
            expectBytes(delayed?.payload, payload, "delayed payload");
            expect((await reopened.enqueue({ id: "waiting", payload: bytes("dup") })).created).toBe(
              false,
            );
            expect(ids(await reopened.claim({ limit: 10, leaseMs: 60_000 }))).toEqual(["waiting"]);
            await reopened.ack(held as Lease);
            expect(await reopened.get("held")).toBeUndefined();
            await clock().advance(1000);
            const [again] = await reopened.claim({ limit: 1, leaseMs: 60_000 });
            expect(again).toMatchObject({ id: "lapsing", attempts: 2 });
            await expectTroupeError(() => reopened.ack(lapsing as Lease), "LEASE_LOST");
            await clock().advance(4000);
            expect(ids(await reopened.claim({ limit: 10, leaseMs: 60_000 }))).toEqual(["delayed"]);
          },
          timeout,
        );
      });
    }
  });
}
