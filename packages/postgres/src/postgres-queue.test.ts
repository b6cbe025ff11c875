import { ManualClock, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { postgresUrl, useScratchSchemas } from "../test/support.js";
import { createPostgresQueue } from "./postgres-queue.js";

const { freshSchema } = useScratchSchemas("pgq");
const payload = (text: string) => new TextEncoder().encode(text);

describe("createPostgresQueue options", () => {
  it("names the bad option", () => {
    expect(() => createPostgresQueue({ connectionString: postgresUrl, queueName: "" })).toThrow(
      /createPostgresQueue\.options\.queueName/,
    );
    expect(() =>
      createPostgresQueue({ connectionString: postgresUrl, queueName: "q", clock: {} as never }),
    ).toThrow(/createPostgresQueue\.options\.clock/);
    try {
      createPostgresQueue({ queueName: "q" });
      expect.unreachable();
    } catch (error) {
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toMatch(/connectionString/);
    }
  });
});

describe("postgres queue", () => {
  it("judges due items by the clock option, not the database clock", async () => {
    // Far in the past: by the database's clock everything would be due.
    const clock = new ManualClock(Date.UTC(2001, 0, 1));
    const queue = createPostgresQueue({
      connectionString: postgresUrl,
      schema: freshSchema(),
      queueName: "timing",
      clock,
    });
    await queue.enqueue({ id: "later", payload: payload("x"), availableAt: clock.now() + 1000 });
    expect(await queue.claim({ limit: 1, leaseMs: 100 })).toEqual([]);
    await clock.advance(1000);
    const [lease] = await queue.claim({ limit: 1, leaseMs: 100 });
    expect(lease?.id).toBe("later");
    expect(lease?.leaseExpiresAt).toBe(clock.now() + 100);
    expect(await queue.claim({ limit: 1, leaseMs: 100 })).toEqual([]);
    await clock.advance(100);
    const [again] = await queue.claim({ limit: 1, leaseMs: 100 });
    expect(again).toMatchObject({ id: "later", attempts: 2 });
    await expect(queue.ack(lease as never)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await queue.ack(again as never);
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
    await queue.close();
  });

  it("never hands one item to two claimers at once", async () => {
    const clock = new ManualClock();
    const schema = freshSchema();
    const queues = Array.from({ length: 4 }, () =>
      createPostgresQueue({ connectionString: postgresUrl, schema, queueName: "race", clock }),
    );
    await queues[0]?.enqueueMany(
      Array.from({ length: 200 }, (_, index) => ({ id: `item-${index}`, payload: payload("p") })),
    );
    const claimed = await Promise.all(
      queues.map(async (queue) => {
        const ids: string[] = [];
        for (;;) {
          const leases = await queue.claim({ limit: 7, leaseMs: 60_000 });
          if (leases.length === 0) return ids;
          ids.push(...leases.map((lease) => lease.id));
        }
      }),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
    await Promise.all(queues.map((queue) => queue.close()));
  });

  it("keeps queues with different names in one schema apart, and enqueues many atomically", async () => {
    const clock = new ManualClock();
    const schema = freshSchema();
    const a = createPostgresQueue({ connectionString: postgresUrl, schema, queueName: "a", clock });
    const b = createPostgresQueue({ connectionString: postgresUrl, schema, queueName: "b", clock });
    await a.enqueue({ id: "same", payload: payload("a") });
    expect(await b.enqueue({ id: "same", payload: payload("b") })).toEqual({
      id: "same",
      created: true,
    });
    expect(await b.counts()).toEqual({ waiting: 1, leased: 0 });
    // A bad item anywhere in the batch means nothing of it is stored.
    await expect(
      a.enqueueMany([{ id: "ok", payload: payload("x") }, { id: "bad", priority: 1.5 } as never]),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await a.get("ok")).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it("claims within a partition in claim order", async () => {
    const clock = new ManualClock();
    const queue = createPostgresQueue({
      connectionString: postgresUrl,
      schema: freshSchema(),
      queueName: "parts",
      clock,
    });
    await queue.enqueueMany([
      { id: "x1", payload: payload("1"), partitionKey: "x" },
      { id: "y1", payload: payload("2"), partitionKey: "y", priority: 9 },
      { id: "x2", payload: payload("3"), partitionKey: "x", priority: 5 },
      { id: "none", payload: payload("4"), priority: 10 },
    ]);
    const leases = await queue.claim({ limit: 10, leaseMs: 1000, partitionKey: "x" });
    expect(leases.map((lease) => lease.id)).toEqual(["x2", "x1"]);
    expect(await queue.nextAvailableAt("y")).toBe(clock.now());
    expect(await queue.nextAvailableAt("x")).toBe(clock.now() + 1000);
    await queue.close();
  });
});
