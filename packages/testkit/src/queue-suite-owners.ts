import type { Queue } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError } from "./assertions.js";
import { type QueueSuiteScope, sortedIds } from "./queue-suite-scope.js";

/** The queue's `releaseOwner`, failing the test when the adapter lacks the capability. */
function releaser(queue: Queue): (owner: string) => Promise<number> {
  const release = queue.releaseOwner?.bind(queue);
  expect(release, `${queue.name} queue has no releaseOwner`).toBeTypeOf("function");
  return release as (owner: string) => Promise<number>;
}

/**
 * Registers the Queue conformance tests for `claim({ owner })` and `releaseOwner`: a restarted
 * claimer takes back exactly the leases it held, at once, and nobody else's.
 */
export function describeQueueOwners(scope: QueueSuiteScope): void {
  const { open, peer, clock, timeout } = scope;
  describe("lease owners", () => {
    it(
      "releaseOwner makes the owner's held items claimable at once and leaves other owners' leases held",
      async () => {
        const queue = await open();
        await queue.enqueueMany(
          ["a", "b", "c", "d", "e"].map((id) => ({ id, payload: bytes(id) })),
        );
        const mine = await queue.claim({ limit: 3, leaseMs: 60_000, owner: "worker-1" });
        const theirs = await queue.claim({ limit: 1, leaseMs: 60_000, owner: "worker-10" });
        const anonymous = await queue.claim({ limit: 1, leaseMs: 60_000 });
        expect(sortedIds(mine)).toEqual(["a", "b", "c"]);

        expect(await releaser(queue)("worker-1")).toBe(3);
        // No time passed: only a release can have made them claimable.
        const again = await queue.claim({ limit: 10, leaseMs: 60_000, owner: "worker-1" });
        expect(sortedIds(again)).toEqual(["a", "b", "c"]);
        expect(again.every((lease) => lease.attempts === 2)).toBe(true);
        for (const lease of mine) await expectTroupeError(() => queue.ack(lease), "LEASE_LOST");
        // "worker-10" starts with "worker-1" but is another owner; an ownerless lease has none.
        for (const lease of [...theirs, ...anonymous, ...again]) await queue.ack(lease);
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "an item whose lease lapsed and was claimed by another claimer is not released",
      async () => {
        const queue = await open();
        const other = await peer();
        await queue.enqueueMany([
          { id: "x", payload: bytes("x") },
          { id: "y", payload: bytes("y") },
        ]);
        const [first] = await queue.claim({ limit: 1, leaseMs: 1_000, owner: "node-a" });
        expect(first?.id).toBe("x");
        await clock().advance(1_001);
        const [taken] = await other.claim({ limit: 1, leaseMs: 60_000, owner: "node-b" });
        expect(taken?.id).toBe("x");
        expect(await releaser(queue)("node-a")).toBe(0);
        await other.ack(taken as NonNullable<typeof taken>);
        const item = await queue.get("y");
        expect(item?.state).toBe("waiting");
        expect(item?.attempts).toBe(0);
      },
      timeout,
    );

    it(
      "waiting and delayed items are untouched and a released item keeps its place in claim order",
      async () => {
        const queue = await open();
        const now = clock().now();
        await queue.enqueueMany([
          { id: "later", payload: bytes("l"), availableAt: now + 5_000 },
          { id: "high", payload: bytes("h"), priority: 5 },
          { id: "low", payload: bytes("o"), priority: 1 },
        ]);
        const [held] = await queue.claim({ limit: 1, leaseMs: 60_000, owner: "w" });
        expect(held?.id).toBe("high");
        expect(await releaser(queue)("w")).toBe(1);
        expect(await releaser(queue)("w")).toBe(0);
        expect((await queue.get("later"))?.availableAt).toBe(now + 5_000);
        const claimed = await queue.claim({ limit: 5, leaseMs: 60_000 });
        expect(claimed.map((lease) => lease.id)).toEqual(["high", "low"]);
      },
      timeout,
    );

    it(
      "a bad owner fails with INVALID_ARGUMENT naming the field",
      async () => {
        const queue = await open();
        await expectTroupeError(
          () => queue.claim({ limit: 1, leaseMs: 1_000, owner: "has~tilde" }),
          "INVALID_ARGUMENT",
          "claim.owner",
        );
        await expectTroupeError(() => releaser(queue)(""), "INVALID_ARGUMENT", "owner");
        await expectTroupeError(
          () => releaser(queue)("x".repeat(129)),
          "INVALID_ARGUMENT",
          "owner",
        );
      },
      timeout,
    );
  });
}
