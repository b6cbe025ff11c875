import { createMemoryQueue, createMemoryStore, type Queue, type Store } from "@troupe/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { benchQueue, benchStore, formatTable, measureThroughput, printTable } from "./bench.js";

describe("measureThroughput", () => {
  it("runs the operation sequentially with increasing iterations and reports its rate", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await measureThroughput(
      "sleepy",
      async (iteration) => {
        seen.push(iteration);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
      },
      { durationMs: 50, warmupMs: 10 },
    );
    expect(maxInFlight).toBe(1);
    expect(seen).toEqual(seen.map((_, i) => i));
    expect(result.name).toBe("sleepy");
    expect(result.operations).toBeGreaterThan(0);
    expect(result.opsPerSec).toBeCloseTo((result.operations * 1000) / result.ms, 6);
    expect(result.p50Us).toBeLessThanOrEqual(result.p99Us ?? Number.NaN);
  });

  it("stops at maxOperations", async () => {
    let calls = 0;
    const result = await measureThroughput(
      "capped",
      () => {
        calls++;
      },
      { durationMs: 10_000, warmupMs: 0, maxOperations: 25 },
    );
    expect(result.operations).toBe(25);
    expect(calls).toBe(25);
  });

  it("propagates a failing operation instead of reporting a number", async () => {
    await expect(
      measureThroughput(
        "broken",
        () => {
          throw new Error("boom");
        },
        { durationMs: 10, warmupMs: 0 },
      ),
    ).rejects.toThrow("boom");
  });
});

describe("formatTable and printTable", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("formats a Markdown table with thousands separators and right-aligned numbers", () => {
    const table = formatTable([
      { adapter: "memory", "ops/s": 1234567, ratio: "1.00x" },
      { adapter: "sqlite", "ops/s": 89.456, extra: 3.5 },
    ]);
    expect(table.split("\n")).toEqual([
      "| adapter |     ops/s | ratio | extra |",
      "| ------- | --------: | ----- | ----: |",
      "| memory  | 1,234,567 | 1.00x |       |",
      "| sqlite  |      89.5 |       |  3.50 |",
    ]);
  });

  it("escapes pipes in cells and prints the title before the table", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    printTable("Results", [{ name: "a|b", value: 1 }]);
    const output = log.mock.calls.map((call) => String(call[0])).join("\n");
    expect(output).toContain("### Results");
    expect(output).toContain("| a\\|b |");
  });
});

describe("benchStore and benchQueue", () => {
  it("measure every candidate, close and destroy it, and compare with the first", async () => {
    const destroyed: string[] = [];
    const closed: string[] = [];
    const candidate = (name: string) => ({
      name,
      create: (): Store => {
        const store = createMemoryStore();
        return {
          ...store,
          close: async () => {
            closed.push(name);
            await store.close();
          },
        };
      },
      destroy: () => {
        destroyed.push(name);
      },
    });
    const rows = await benchStore([candidate("first"), candidate("second")], { durationMs: 30 });
    expect(rows.map((row) => `${row.adapter}: ${row.operation}`)).toEqual([
      "first: guarded commit (1 key)",
      "first: batched commit (100 sets)",
      "first: get",
      "first: list (limit 100)",
      "second: guarded commit (1 key)",
      "second: batched commit (100 sets)",
      "second: get",
      "second: list (limit 100)",
    ]);
    expect(rows.slice(0, 4).every((row) => row["vs first"] === "1.00x")).toBe(true);
    const batched = rows[1] as Record<string, string | number>;
    expect(batched["items/s"]).toBeGreaterThan(batched["ops/s"] as number);
    expect(closed).toEqual(["first", "second"]);
    expect(destroyed).toEqual(["first", "second"]);
  });

  it("benchQueue drains what it enqueues", async () => {
    let queue: Queue | undefined;
    const rows = await benchQueue(
      [
        {
          name: "memory",
          create: () => {
            queue = createMemoryQueue();
            return queue;
          },
        },
      ],
      { durationMs: 30 },
    );
    expect(rows.map((row) => row.operation)).toEqual([
      "enqueue→claim→ack (1 item)",
      "batched cycle (100 items)",
    ]);
    expect(rows.every((row) => (row["ops/s"] as number) > 0)).toBe(true);
    expect(queue).toBeDefined();
  });
});
