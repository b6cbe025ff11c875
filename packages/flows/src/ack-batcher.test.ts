import { createMemoryQueue, ManualClock, type Queue, TroupeError, utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createAckBatcher } from "./ack-batcher.js";

function countingQueue(failBatches = false) {
  const inner = createMemoryQueue({ clock: new ManualClock(1_000), queueName: "q" });
  const calls = { ack: 0, ackMany: 0 };
  const queue: Queue = {
    ...inner,
    ack: (lease) => {
      calls.ack++;
      return inner.ack(lease);
    },
    ackMany: (leases) => {
      calls.ackMany++;
      if (failBatches) return Promise.reject(new TroupeError("UNAVAILABLE", "down"));
      return inner.ackMany(leases);
    },
  };
  return { queue, calls };
}

async function claimed(queue: Queue, count: number) {
  await queue.enqueueMany(
    Array.from({ length: count }, (_, index) => ({ id: `i${index}`, payload: utf8("x") })),
  );
  return queue.claim({ limit: count, leaseMs: 60_000 });
}

describe("createAckBatcher", () => {
  it("acknowledges the items settled in one turn with one ackMany", async () => {
    const { queue, calls } = countingQueue();
    const leases = await claimed(queue, 10);
    const batcher = createAckBatcher(queue);
    await Promise.all(leases.map((lease) => batcher.ack(lease)));
    expect(calls).toEqual({ ack: 0, ackMany: 1 });
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
  });

  it("sends a lone ack as ack", async () => {
    const { queue, calls } = countingQueue();
    const [lease] = await claimed(queue, 1);
    if (!lease) throw new Error("nothing claimed");
    await createAckBatcher(queue).ack(lease);
    expect(calls).toEqual({ ack: 1, ackMany: 0 });
    expect(await queue.get("i0")).toBeUndefined();
  });

  it("fails only the acks whose lease was lost, with LEASE_LOST", async () => {
    const { queue } = countingQueue();
    const [first, second, third] = await claimed(queue, 3);
    if (!first || !second || !third) throw new Error("nothing claimed");
    await queue.remove(second.id);
    const batcher = createAckBatcher(queue);
    const outcomes = await Promise.allSettled([first, second, third].map((l) => batcher.ack(l)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    const rejected = outcomes[1];
    expect(
      rejected?.status === "rejected" && TroupeError.isInstance(rejected.reason, "LEASE_LOST"),
    ).toBe(true);
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
  });

  it("acknowledges one by one when the batch call fails", async () => {
    const { queue, calls } = countingQueue(true);
    const leases = await claimed(queue, 4);
    const batcher = createAckBatcher(queue);
    await Promise.all(leases.map((lease) => batcher.ack(lease)));
    expect(calls).toEqual({ ack: 4, ackMany: 1 });
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
  });
});
