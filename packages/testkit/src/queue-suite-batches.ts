import type { Lease, LeaseRef, Queue } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError } from "./assertions.js";
import { ids, type QueueSuiteScope, sortedIds } from "./queue-suite-scope.js";

const refs = (leases: readonly (LeaseRef | undefined)[]): LeaseRef[] =>
  leases.map((lease) => {
    if (!lease) throw new Error("a lease the test relies on was not claimed");
    return { id: lease.id, leaseId: lease.leaseId };
  });

const enqueueIds = (queue: Queue, names: readonly string[]) =>
  queue.enqueueMany(names.map((id) => ({ id, payload: bytes(id) })));

/** Claims exactly `names` (in order, one claim each so the lease lengths can differ). */
async function claimEach(queue: Queue, leaseMs: readonly number[]): Promise<Lease[]> {
  const leases: Lease[] = [];
  for (const ms of leaseMs) {
    const [lease] = await queue.claim({ limit: 1, leaseMs: ms });
    if (!lease) throw new Error("expected a claimable item");
    leases.push(lease);
  }
  return leases;
}

/** Registers the Queue conformance tests for `ackMany` and `retryMany`. */
export function describeQueueBatches(scope: QueueSuiteScope): void {
  const { open, peer, clock, timeout } = scope;
  describe("batch ack and retry", () => {
    it(
      "ackMany finishes every held lease in one call and reports them in the order given",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["a", "b", "c", "d"]);
        const leases = await queue.claim({ limit: 4, leaseMs: 60_000 });
        const given = refs([leases[2], leases[0], leases[3]]);
        expect(await queue.ackMany(given)).toEqual({ applied: given, lost: [] });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
        for (const ref of given) expect(await queue.get(ref.id)).toBeUndefined();
        // Acked ids may be used again at once.
        expect((await queue.enqueue({ id: "a", payload: bytes("again") })).created).toBe(true);
      },
      timeout,
    );

    it(
      "a lease lost in the middle of a batch is reported, its item untouched, and the rest acked",
      async () => {
        const queue = await open();
        const other = await peer();
        await enqueueIds(queue, ["first", "middle", "last", "gone"]);
        const [first, middle, last, gone] = await claimEach(queue, [60_000, 1000, 60_000, 60_000]);
        await clock().advance(1000);
        const [stolen] = await other.claim({ limit: 1, leaseMs: 60_000 });
        expect(stolen).toMatchObject({ id: "middle", attempts: 2 });
        expect(await queue.remove("gone")).toBe(true);
        const result = await queue.ackMany(refs([first, middle, last, gone]));
        expect(result).toEqual({ applied: refs([first, last]), lost: refs([middle, gone]) });
        expect(await queue.get("middle")).toMatchObject({ state: "leased", attempts: 2 });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
        // The new holder's lease is intact.
        expect(await other.ackMany(refs([stolen]))).toEqual({ applied: refs([stolen]), lost: [] });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "a lapsed lease nobody claimed since is still held; an already acked one is lost",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["lapsed", "done"]);
        const [lapsed, done] = await claimEach(queue, [1000, 60_000]);
        await queue.ack(done as Lease);
        await clock().advance(5000);
        expect(await queue.ackMany(refs([lapsed, done]))).toEqual({
          applied: refs([lapsed]),
          lost: refs([done]),
        });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "duplicates count once, and of two leases on one item only the latest applies",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["a", "b"]);
        const [a, staleB] = await claimEach(queue, [60_000, 1000]);
        await clock().advance(1000);
        const [currentB] = await queue.claim({ limit: 1, leaseMs: 60_000 });
        expect(currentB?.id).toBe("b");
        const result = await queue.ackMany(refs([a, staleB, a, currentB, staleB, currentB]));
        expect(result).toEqual({ applied: refs([a, currentB]), lost: refs([staleB]) });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
        // The lease objects themselves (with every Lease field) are accepted as refs.
        await enqueueIds(queue, ["c"]);
        const claimed = await queue.claim({ limit: 1, leaseMs: 60_000 });
        expect((await queue.ackMany(claimed)).applied).toEqual(refs(claimed));
      },
      timeout,
    );

    it(
      "an empty batch changes nothing and reports nothing",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["a"]);
        await queue.claim({ limit: 1, leaseMs: 60_000 });
        expect(await queue.ackMany([])).toEqual({ applied: [], lost: [] });
        expect(await queue.retryMany([])).toEqual({ applied: [], lost: [] });
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
      },
      timeout,
    );

    it(
      "retryMany releases held leases at availableAt with attempts kept, and reports lost ones",
      async () => {
        const queue = await open();
        const other = await peer();
        await enqueueIds(queue, ["a", "b", "c"]);
        const [a, b, c] = await claimEach(queue, [60_000, 1000, 60_000]);
        await clock().advance(1000);
        const [stolen] = await other.claim({ limit: 1, leaseMs: 60_000 });
        expect(stolen?.id).toBe("b");
        const later = clock().now() + 5000;
        const result = await queue.retryMany(refs([c, b, a]), { availableAt: later });
        expect(result).toEqual({ applied: refs([c, a]), lost: refs([b]) });
        expect(await queue.get("a")).toMatchObject({
          state: "waiting",
          attempts: 1,
          availableAt: later,
        });
        expect(await queue.get("b")).toMatchObject({ state: "leased", attempts: 2 });
        expect(await queue.claim({ limit: 10, leaseMs: 60_000 })).toEqual([]);
        expect(await queue.nextAvailableAt()).toBe(later);
        await clock().advance(5000);
        const again = await queue.claim({ limit: 10, leaseMs: 60_000 });
        expect(ids(again)).toEqual(["a", "c"]);
        expect(again.map((lease) => lease.attempts)).toEqual([2, 2]);
        // The old leases are gone with the retry.
        expect((await queue.ackMany(refs([a, c]))).lost).toEqual(refs([a, c]));
        // Without options the items are claimable at once.
        expect(await queue.retryMany(again)).toEqual({ applied: refs(again), lost: [] });
        expect(sortedIds(await queue.claim({ limit: 10, leaseMs: 60_000 }))).toEqual(["a", "c"]);
      },
      timeout,
    );

    it(
      "batches keep partitions, nextAvailableAt and counts right",
      async () => {
        const queue = await open();
        await queue.enqueueMany([
          { id: "p1", payload: bytes("p1"), partitionKey: "p" },
          { id: "q1", payload: bytes("q1"), partitionKey: "q" },
          { id: "p2", payload: bytes("p2"), partitionKey: "p" },
          { id: "q2", payload: bytes("q2"), partitionKey: "q" },
          { id: "plain", payload: bytes("plain") },
        ]);
        const leases = await queue.claim({ limit: 10, leaseMs: 60_000 });
        const byId = new Map(leases.map((lease) => [lease.id, lease]));
        const later = clock().now() + 3000;
        const retried = await queue.retryMany(refs([byId.get("p2"), byId.get("p1")]), {
          availableAt: later,
        });
        expect(retried.lost).toEqual([]);
        const acked = await queue.ackMany(refs([byId.get("q1"), byId.get("q2")]));
        expect(acked.lost).toEqual([]);
        expect(await queue.counts()).toEqual({ waiting: 2, leased: 1 });
        expect(await queue.nextAvailableAt("q")).toBeUndefined();
        expect(await queue.nextAvailableAt("p")).toBe(later);
        expect(await queue.claim({ limit: 10, leaseMs: 60_000, partitionKey: "q" })).toEqual([]);
        expect(await queue.claim({ limit: 10, leaseMs: 60_000, partitionKey: "p" })).toEqual([]);
        await clock().advance(3000);
        const again = await queue.claim({ limit: 10, leaseMs: 60_000, partitionKey: "p" });
        expect(ids(again)).toEqual(["p1", "p2"]);
        expect(again.every((lease) => lease.partitionKey === "p" && lease.attempts === 2)).toBe(
          true,
        );
        // The same ids enqueue afresh in their partition once acked.
        expect(
          (await queue.enqueue({ id: "q1", payload: bytes("x"), partitionKey: "q" })).created,
        ).toBe(true);
        expect(ids(await queue.claim({ limit: 10, leaseMs: 60_000, partitionKey: "q" }))).toEqual([
          "q1",
        ]);
      },
      timeout,
    );

    it(
      "two callers acking the same leases at once apply each lease exactly once between them",
      async () => {
        const queue = await open();
        const other = await peer();
        const total = 40;
        await queue.enqueueMany(
          Array.from({ length: total }, (_, i) => ({ id: `item-${i}`, payload: bytes("x") })),
        );
        const leases = refs(await queue.claim({ limit: total, leaseMs: 60_000 }));
        expect(leases).toHaveLength(total);
        const [one, two] = await Promise.all([
          queue.ackMany(leases),
          other.ackMany([...leases].reverse()),
        ]);
        const applied = [...one.applied, ...two.applied].map((ref) => ref.id).sort();
        expect(applied).toEqual(leases.map((ref) => ref.id).sort());
        expect(one.lost.length + two.lost.length).toBe(total);
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "a batch of 1,000 leases is acked in one call",
      async () => {
        const queue = await open();
        const total = 1000;
        await queue.enqueueMany(
          Array.from({ length: total }, (_, i) => ({ id: `item-${i}`, payload: bytes("x") })),
        );
        const leases = await queue.claim({ limit: total, leaseMs: 60_000 });
        expect(leases).toHaveLength(total);
        const result = await queue.ackMany(leases);
        expect(result.applied).toHaveLength(total);
        expect(result.lost).toEqual([]);
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "bad input fails with INVALID_ARGUMENT naming the entry, and nothing changes",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["a"]);
        const [held] = await queue.claim({ limit: 1, leaseMs: 60_000 });
        const good = refs([held]);
        const cases: [unknown, string][] = [
          ["not an array", "leases"],
          [[...good, null], "leases[1]"],
          [[...good, { id: "", leaseId: "x" }], "leases[1].id"],
          [[...good, { id: "a" }], "leases[1].leaseId"],
          [[...good, { id: "a", leaseId: 7 }], "leases[1].leaseId"],
        ];
        for (const [leases, field] of cases) {
          await expectTroupeError(
            () => queue.ackMany(leases as LeaseRef[]),
            "INVALID_ARGUMENT",
            field,
          );
          await expectTroupeError(
            () => queue.retryMany(leases as LeaseRef[]),
            "INVALID_ARGUMENT",
            field,
          );
        }
        await expectTroupeError(
          () => queue.retryMany(good, { availableAt: -1 }),
          "INVALID_ARGUMENT",
          "retry.availableAt",
        );
        // Rejected promises, never synchronous throws: callers chain `.catch` on them.
        const calls = [
          () => queue.ackMany("not an array" as never),
          () => queue.retryMany("not an array" as never),
          () => queue.retryMany(good, { availableAt: -1 }),
        ];
        for (const call of calls) {
          let pending: Promise<unknown> | undefined;
          expect(() => {
            pending = call();
          }).not.toThrow();
          await expect(pending).rejects.toThrow(/leases|retry\.availableAt/);
        }
        expect(await queue.get("a")).toMatchObject({ state: "leased", attempts: 1 });
        expect(await queue.ackMany(good)).toEqual({ applied: good, lost: [] });
      },
      timeout,
    );

    it(
      "after close() ackMany and retryMany fail with code CLOSED, even for an empty batch",
      async () => {
        const queue = await open();
        await enqueueIds(queue, ["a"]);
        const leases = await queue.claim({ limit: 1, leaseMs: 60_000 });
        await queue.close();
        await expectTroupeError(() => queue.ackMany(leases), "CLOSED");
        await expectTroupeError(() => queue.ackMany([]), "CLOSED");
        await expectTroupeError(() => queue.retryMany(leases), "CLOSED");
        await expectTroupeError(() => queue.retryMany([]), "CLOSED");
      },
      timeout,
    );
  });
}
