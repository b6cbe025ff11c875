import { createMemoryQueue, type Queue } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { benchQueueBacklog } from "./queue-backlog-bench.js";

describe("benchQueueBacklog", () => {
  it("keeps the backlog topped up, batches acks, closes every queue and reports one row per candidate", async () => {
    const opened: { name: string; queue: Queue; acks: number; ackManys: number }[] = [];
    const candidate = (name: string) => ({
      name,
      create(queueName: string) {
        const inner = createMemoryQueue({ queueName });
        const entry = { name, queue: inner, acks: 0, ackManys: 0 };
        opened.push(entry);
        return {
          ...inner,
          ack: (lease: Parameters<Queue["ack"]>[0]) => {
            entry.acks++;
            return inner.ack(lease);
          },
          ackMany: (leases: Parameters<Queue["ackMany"]>[0]) => {
            entry.ackManys++;
            return inner.ackMany(leases);
          },
        } satisfies Queue;
      },
    });
    const rows = await benchQueueBacklog(
      [candidate("a"), candidate("b")],
      [
        { batch: 1, queued: 200, consumers: 1 },
        { batch: 10, queued: 300, consumers: 3 },
      ],
      { sliceMs: 20, slices: 2 },
    );
    expect(rows.map((row) => [row.scenario, row.adapter])).toEqual([
      ["b=1, 200 queued, 1 consumer", "a"],
      ["b=1, 200 queued, 1 consumer", "b"],
      ["b=10, 300 queued, 3 consumers", "a"],
      ["b=10, 300 queued, 3 consumers", "b"],
    ]);
    expect(rows[0]?.["vs a"]).toBe("1.00x");
    for (const row of rows) expect(Number(row["cycles/s"])).toBeGreaterThan(0);
    const [singles, , batches] = opened;
    expect(singles?.acks).toBeGreaterThan(0);
    expect(singles?.ackManys).toBe(0);
    expect(batches?.ackManys).toBeGreaterThan(0);
    expect(batches?.acks).toBe(0);
    // Closed afterwards, whatever was left in them.
    for (const { queue } of opened) await expect(queue.counts()).rejects.toThrow(/closed/i);
  });
});
