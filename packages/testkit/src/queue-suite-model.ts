import type { Lease } from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  bytes,
  createRandom,
  expectBytes,
  expectTroupeError,
  pseudoRandomBytes,
  text,
} from "./assertions.js";
import { ids, type QueueSuiteScope } from "./queue-suite-scope.js";

/** Registers the Queue conformance tests for the seeded reference-model check, closing and (with `reopen`) durability. */
export function describeQueueModel(scope: QueueSuiteScope): void {
  const { open, peer, clock, harness, timeout, options } = scope;
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
              expect(lowestClaimed, `${where}: priority order`).toBeGreaterThanOrEqual(highestLeft);
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
                .filter((item) => partitionKey === undefined || item.partitionKey === partitionKey)
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
}
