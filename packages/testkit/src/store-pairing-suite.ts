import {
  isStorePairedQueue,
  type Queue,
  type Store,
  type StorePairedQueue,
  storePairing,
} from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bytes, DEFAULT_TEST_TIMEOUT_MS, expectConflict, expectTroupeError } from "./assertions.js";
import { createSuiteContext, type SuiteContext } from "./suite-context.js";

/** A Store and a Queue in one database, the queue offering the pairing with the store. */
export interface PairedPorts {
  readonly store: Store;
  readonly queue: Queue;
}

/** How `describeStorePairing` opens and removes the ports under test. */
export interface StorePairingSuiteOptions {
  /**
   * A fresh, empty Store and a Queue that pairs with it; the queue must use `context.clock` and
   * both names derived from `context.id`.
   */
  create(context: SuiteContext): PairedPorts | Promise<PairedPorts>;
  /** A Store the queue must NOT pair with (another database or schema). Turns on that test. */
  createUnpaired?(context: SuiteContext): Store | Promise<Store>;
  /** Remove what `create` made, after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

const key = (name: string) => `pairing/${name}`;
const set = (name: string, expect?: number | "absent") =>
  ({
    type: "set",
    key: key(name),
    value: bytes(name),
    ...(expect === undefined ? {} : { expect }),
  }) as const;

/**
 * Registers the conformance suite of the optional Store pairing of a Queue
 * (`StorePairedQueue` in `@troupe/core`): a Store commit and an enqueue in one transaction, both
 * or neither, dedupe kept, and new items handed back leased on request. Run it for adapters that
 * offer the pairing, beside `describeStore` and `describeQueue`.
 */
export function describeStorePairing(adapterName: string, options: StorePairingSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Store pairing conformance`, () => {
    let context: SuiteContext;
    let ports: PairedPorts | undefined;
    const opened: { close(): Promise<void> }[] = [];
    const open = async (): Promise<{ store: Store; queue: StorePairedQueue }> => {
      ports ??= await options.create(context);
      opened.push(ports.queue, ports.store);
      const { store, queue } = ports;
      if (!isStorePairedQueue(queue))
        throw new Error("create must return a queue with pairsWith and commitWithStore");
      return { store, queue };
    };

    beforeEach(() => {
      context = createSuiteContext();
      ports = undefined;
    });
    afterEach(async () => {
      for (const handle of opened.splice(0)) await handle.close();
      await options.destroy?.(context);
    }, timeout);

    it(
      "the queue pairs with its store",
      async () => {
        const { store, queue } = await open();
        expect(queue.pairsWith(store)).toBe(true);
        expect(storePairing(queue, store)).toBeTypeOf("function");
      },
      timeout,
    );

    if (options.createUnpaired) {
      const createUnpaired = options.createUnpaired;
      it(
        "the queue does not pair with a store elsewhere",
        async () => {
          const { queue } = await open();
          const other = await createUnpaired(context);
          opened.push(other);
          expect(queue.pairsWith(other)).toBe(false);
          expect(storePairing(queue, other)).toBeUndefined();
        },
        timeout,
      );
    }

    it(
      "commits the ops and enqueues the items together, with the store's version",
      async () => {
        const { store, queue } = await open();
        const result = await queue.commitWithStore(
          [set("a", "absent")],
          [
            { id: "one", payload: bytes("1") },
            { id: "two", payload: bytes("2"), priority: 3 },
          ],
        );
        expect(result.version).toBeGreaterThan(0);
        expect(result.leases).toEqual([]);
        expect((await store.get(key("a")))?.version).toBe(result.version);
        expect(await queue.counts()).toEqual({ waiting: 2, leased: 0 });
        const claimed = await queue.claim({ limit: 5, leaseMs: 1000 });
        expect(claimed.map((lease) => lease.id)).toEqual(["two", "one"]);
      },
      timeout,
    );

    it(
      "a failed guard applies neither the ops nor the items",
      async () => {
        const { store, queue } = await open();
        const first = await store.commit([set("taken")]);
        await expectConflict(
          () =>
            queue.commitWithStore(
              [set("fresh"), set("taken", "absent")],
              [{ id: "never", payload: bytes("x") }],
              { lease: { ids: ["never"], leaseMs: 1000 } },
            ),
          key("taken"),
          "absent",
          first.version,
        );
        expect(await store.get(key("fresh"))).toBeUndefined();
        expect(await queue.get("never")).toBeUndefined();
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
      },
      timeout,
    );

    it(
      "an item already queued is left as it is",
      async () => {
        const { queue } = await open();
        await queue.enqueue({ id: "old", payload: bytes("old"), priority: 5 });
        await queue.commitWithStore(
          [set("b")],
          [
            { id: "old", payload: bytes("new"), priority: 1 },
            { id: "new", payload: bytes("new") },
          ],
        );
        const old = await queue.get("old");
        expect(old?.priority).toBe(5);
        expect(old?.payload).toEqual(bytes("old"));
        expect(await queue.get("new")).toBeDefined();
      },
      timeout,
    );

    it(
      "leases handed back under an owner are taken back by that owner's releaseOwner",
      async () => {
        const { queue } = await open();
        if (queue.releaseOwner === undefined) return; // the owner capability is optional too
        const { leases } = await queue.commitWithStore(
          [set("owned")],
          [
            { id: "mine", payload: bytes("m") },
            { id: "theirs", payload: bytes("t") },
          ],
          { lease: { ids: ["mine"], leaseMs: 60_000, owner: "worker-1" } },
        );
        expect(leases.map((lease) => lease.id)).toEqual(["mine"]);
        expect(await queue.releaseOwner("worker-10")).toBe(0);
        expect(await queue.releaseOwner("worker-1")).toBe(1);
        const claimed = await queue.claim({ limit: 10, leaseMs: 1000 });
        expect(claimed.map((lease) => lease.id).sort()).toEqual(["mine", "theirs"]);
        await expectTroupeError(
          () =>
            queue.commitWithStore([set("bad")], [], {
              lease: { ids: ["x"], leaseMs: 1000, owner: "" },
            }),
          "INVALID_ARGUMENT",
          "options.lease.owner",
        );
      },
      timeout,
    );

    it(
      "items asked for come back leased, in the order asked, and no claimer gets them",
      async () => {
        const { store, queue } = await open();
        const now = context.clock.now();
        const result = await queue.commitWithStore(
          [set("c", "absent")],
          [
            { id: "a", payload: bytes("a") },
            { id: "b", payload: bytes("b") },
            { id: "c", payload: bytes("c"), priority: 2 },
          ],
          { lease: { ids: ["c", "a"], leaseMs: 1000 } },
        );
        expect((await store.get(key("c")))?.version).toBe(result.version);
        expect(
          result.leases.map(({ id, state, attempts, leaseExpiresAt, priority }) => ({
            id,
            state,
            attempts,
            leaseExpiresAt,
            priority,
          })),
        ).toEqual([
          { id: "c", state: "leased", attempts: 1, leaseExpiresAt: now + 1000, priority: 2 },
          { id: "a", state: "leased", attempts: 1, leaseExpiresAt: now + 1000, priority: 0 },
        ]);
        expect(result.leases[0]?.payload).toEqual(bytes("c"));
        expect(await queue.counts()).toEqual({ waiting: 1, leased: 2 });
        expect((await queue.claim({ limit: 5, leaseMs: 1000 })).map((lease) => lease.id)).toEqual([
          "b",
        ]);
        const [c, a] = result.leases;
        if (!c || !a) throw new Error("expected two leases");
        // The handed-back leases are real leases: they ack, and they lapse.
        await queue.ack(c);
        expect(await queue.get("c")).toBeUndefined();
        await context.clock.advance(1001);
        const again = await queue.claim({ limit: 5, leaseMs: 1000 });
        const seen = again.map((lease) => `${lease.id}:${lease.attempts}`).sort();
        expect(seen).toEqual(["a:2", "b:2"]);
        await expectTroupeError(() => queue.ack(a), "LEASE_LOST");
      },
      timeout,
    );

    it(
      "an item already queued is not leased: it stays with any claimer",
      async () => {
        const { queue } = await open();
        await queue.enqueue({ id: "dup", payload: bytes("dup") });
        const result = await queue.commitWithStore(
          [set("d")],
          [{ id: "dup", payload: bytes("dup") }],
          { lease: { ids: ["dup"], leaseMs: 1000 } },
        );
        expect(result.leases).toEqual([]);
        expect((await queue.claim({ limit: 1, leaseMs: 1000 })).map((lease) => lease.id)).toEqual([
          "dup",
        ]);
      },
      timeout,
    );

    it(
      "held leases are acknowledged in the same transaction; others are left alone",
      async () => {
        const { store, queue } = await open();
        await queue.enqueueMany([
          { id: "done", payload: bytes("done") },
          { id: "taken", payload: bytes("taken") },
        ]);
        const [done, taken] = await queue.claim({ limit: 2, leaseMs: 1000 });
        if (!done || !taken) throw new Error("expected two leases");
        // Both lapse; one is claimed again, so its first lease is no longer held, while the
        // other's lapsed lease still is (nobody claimed it since).
        await context.clock.advance(1001);
        const [retaken] = await queue.claim({ limit: 1, leaseMs: 60_000 });
        if (!retaken) throw new Error("expected a lapsed item to be claimable");
        const stale = retaken.id === done.id ? done : taken;
        const held = retaken.id === done.id ? taken : done;
        // A failed guard acknowledges nothing.
        const first = await store.commit([set("f")]);
        await expectConflict(
          () =>
            queue.commitWithStore([set("f", "absent")], [], {
              ack: [{ id: held.id, leaseId: held.leaseId }],
            }),
          key("f"),
          "absent",
          first.version,
        );
        expect((await queue.get(held.id))?.state).toBe("leased");
        const result = await queue.commitWithStore([set("f", first.version)], [], {
          ack: [
            { id: stale.id, leaseId: stale.leaseId },
            { id: held.id, leaseId: held.leaseId },
          ],
        });
        expect(result.acked).toEqual([{ id: held.id, leaseId: held.leaseId }]);
        expect((await store.get(key("f")))?.version).toBe(result.version);
        expect(await queue.get(held.id)).toBeUndefined();
        expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
      },
      timeout,
    );

    it(
      "bad input fails naming the field, and nothing changes",
      async () => {
        const { store, queue } = await open();
        await expectTroupeError(
          () =>
            queue.commitWithStore(
              [set("e")],
              [{ id: "x", payload: "text" as unknown as Uint8Array }],
            ),
          "INVALID_ARGUMENT",
          "items[0].payload",
        );
        await expectTroupeError(
          () =>
            queue.commitWithStore([set("e")], [{ id: "x", payload: bytes("x") }], {
              lease: { ids: ["x"], leaseMs: 0 },
            }),
          "INVALID_ARGUMENT",
          "options.lease.leaseMs",
        );
        expect(await store.get(key("e"))).toBeUndefined();
        expect(await queue.get("x")).toBeUndefined();
      },
      timeout,
    );
  });
}
