import { join } from "node:path";
import { ManualClock, type Queue, utf8 } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempDir } from "../test/temp-files.js";
import { createSqliteQueue } from "./sqlite-queue.js";

describe("createSqliteQueue", () => {
  let temp: ReturnType<typeof createTempDir>;
  let path: string;
  let clock: ManualClock;
  const opened: Queue[] = [];
  const open = (queueName = "jobs") => {
    const queue = createSqliteQueue({ path, queueName, clock });
    opened.push(queue);
    return queue;
  };

  beforeEach(() => {
    temp = createTempDir("queue");
    path = join(temp.dir, "troupe.db");
    // Far from the wall clock: proves the database's own clock is never consulted.
    clock = new ManualClock(Date.UTC(2001, 0, 1));
  });
  afterEach(async () => {
    for (const queue of opened.splice(0)) await queue.close();
    temp.remove();
  });

  it("claims by priority, then availableAt, then enqueue order", async () => {
    const queue = open();
    const now = clock.now();
    await queue.enqueueMany([
      { id: "late-low", payload: utf8("1"), availableAt: now - 10 },
      { id: "early-low", payload: utf8("2"), availableAt: now - 20 },
      { id: "high", payload: utf8("3"), priority: 5 },
      { id: "later-same", payload: utf8("4"), availableAt: now - 10 },
      { id: "future", payload: utf8("5"), priority: 100, availableAt: now + 1 },
    ]);
    const leases = await queue.claim({ limit: 10, leaseMs: 1000 });
    expect(leases.map((lease) => lease.id)).toEqual([
      "high",
      "early-low",
      "late-low",
      "later-same",
    ]);
    expect(new Set(leases.map((lease) => lease.leaseId)).size).toBe(4);
  });

  it("hands each item to only one of two connections", async () => {
    const first = open();
    const second = open();
    await first.enqueueMany(
      Array.from({ length: 20 }, (_, index) => ({ id: `item-${index}`, payload: utf8("x") })),
    );
    const claimed: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (const queue of [first, second]) {
        const leases = await queue.claim({ limit: 2, leaseMs: 1000 });
        claimed.push(...leases.map((lease) => lease.id));
      }
    }
    expect(claimed).toHaveLength(20);
    expect(new Set(claimed).size).toBe(20);
  });

  it("reclaims a lapsed lease with a new lease id and fences the old one", async () => {
    const first = open();
    const second = open();
    await first.enqueue({ id: "job", payload: utf8("x") });
    const [old] = await first.claim({ limit: 1, leaseMs: 100 });
    expect(await second.claim({ limit: 1, leaseMs: 100 })).toEqual([]);
    await clock.advance(100);
    const [fresh] = await second.claim({ limit: 1, leaseMs: 100 });
    expect(fresh?.attempts).toBe(2);
    expect(fresh?.leaseId).not.toBe(old?.leaseId);
    await expect(first.ack(old as NonNullable<typeof old>)).rejects.toMatchObject({
      code: "LEASE_LOST",
    });
    await second.ack(fresh as NonNullable<typeof fresh>);
    expect(await first.counts()).toEqual({ waiting: 0, leased: 0 });
  });

  it("keeps items across reopening and keeps queues apart", async () => {
    const jobs = open("jobs");
    const mail = open("mail");
    await jobs.enqueue({ id: "a", payload: utf8("a"), partitionKey: "p1" });
    await mail.enqueue({ id: "a", payload: utf8("mail") });
    await jobs.close();
    const reopened = open("jobs");
    expect(await reopened.get("a")).toMatchObject({ payload: utf8("a"), partitionKey: "p1" });
    expect(await reopened.claim({ limit: 5, leaseMs: 10, partitionKey: "p2" })).toEqual([]);
    const leases = await reopened.claim({ limit: 5, leaseMs: 10, partitionKey: "p1" });
    expect(leases.map((lease) => lease.id)).toEqual(["a"]);
    expect(await mail.counts()).toEqual({ waiting: 1, leased: 0 });
  });

  it("reports the next due time from waiting items and leases", async () => {
    const queue = open();
    const now = clock.now();
    expect(await queue.nextAvailableAt()).toBeUndefined();
    await queue.enqueue({ id: "later", payload: utf8("x"), availableAt: now + 500 });
    await queue.enqueue({ id: "now", payload: utf8("y"), partitionKey: "p" });
    await queue.claim({ limit: 1, leaseMs: 50 });
    expect(await queue.nextAvailableAt()).toBe(now + 50);
    expect(await queue.nextAvailableAt("p")).toBe(now + 50);
    expect(await queue.nextAvailableAt("other")).toBeUndefined();
  });

  it("finds the earliest waiting item across priority levels", async () => {
    const queue = open();
    const now = clock.now();
    await queue.enqueueMany([
      { id: "high-late", payload: utf8("a"), priority: 9, availableAt: now + 900 },
      {
        id: "mid-early",
        payload: utf8("b"),
        priority: 3,
        availableAt: now + 300,
        partitionKey: "p",
      },
      {
        id: "mid-later",
        payload: utf8("c"),
        priority: 3,
        availableAt: now + 400,
        partitionKey: "q",
      },
      { id: "low-middle", payload: utf8("d"), priority: -7, availableAt: now + 500 },
    ]);
    expect(await queue.nextAvailableAt()).toBe(now + 300);
    expect(await queue.nextAvailableAt("q")).toBe(now + 400);
    await queue.remove("mid-early");
    expect(await queue.nextAvailableAt()).toBe(now + 400);
    await queue.remove("mid-later");
    expect(await queue.nextAvailableAt()).toBe(now + 500);
  });

  it("rejects bad options naming the option", () => {
    expect(() => createSqliteQueue({ path, queueName: "", clock })).toThrow(/options\.queueName/);
    expect(() => createSqliteQueue({ path, queueName: "q" } as never)).toThrow(/options\.clock/);
  });
});
