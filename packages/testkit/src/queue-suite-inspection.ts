import { type EnqueueItem, type Lease, MAX_PRIORITY, MIN_PRIORITY } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectBytes, expectTroupeError, pseudoRandomBytes, text } from "./assertions.js";
import { ids, type QueueSuiteScope, sortedIds } from "./queue-suite-scope.js";

/** Registers the Queue conformance tests for remove, get, counts, nextAvailableAt, isolation, payloads and validation. */
export function describeQueueInspection(scope: QueueSuiteScope): void {
  const { open, peer, clock, harness, timeout } = scope;
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
        expect(await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "three" })).toEqual([]);
        expect(ids(await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "two" }))).toEqual([
          "two-a",
        ]);
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
}
