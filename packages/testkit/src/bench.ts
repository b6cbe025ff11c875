import { performance } from "node:perf_hooks";
import type { Lease, Queue, Store } from "@troupe/core";

/** One measured operation. */
export interface ThroughputResult {
  /** What was measured. */
  readonly name: string;
  /** How many operations ran in the measured window (warm-up excluded). */
  readonly operations: number;
  /** The measured window's length, in ms. */
  readonly ms: number;
  /** Operations per second over the window. */
  readonly opsPerSec: number;
  /** Median latency of one operation, in microseconds. */
  readonly p50Us?: number;
  /** 99th-percentile latency of one operation, in microseconds. */
  readonly p99Us?: number;
}

/** Options of {@link measureThroughput}. */
export interface MeasureOptions {
  /** How long to measure, in ms. Default 1,500. */
  durationMs?: number;
  /** How long to run first without measuring (JIT, caches, connection pools), in ms. Default 200. */
  warmupMs?: number;
  /** Stop after this many measured operations, even before `durationMs`. */
  maxOperations?: number;
}

function percentile(sorted: Float64Array, fraction: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

/**
 * Runs `operation` repeatedly (sequential awaits) for about `durationMs` after `warmupMs`,
 * recording per-operation latency. `iteration` counts from 0 across warm-up and measurement, so
 * operations can use it to pick distinct keys.
 */
export async function measureThroughput(
  name: string,
  operation: (iteration: number) => Promise<void> | void,
  options: MeasureOptions = {},
): Promise<ThroughputResult> {
  const durationMs = options.durationMs ?? 1500;
  const warmupMs = options.warmupMs ?? 200;
  const maxOperations = options.maxOperations ?? Number.POSITIVE_INFINITY;
  let iteration = 0;
  const warmupEnd = performance.now() + warmupMs;
  while (performance.now() < warmupEnd) await operation(iteration++);

  let latencies = new Float64Array(4096);
  let operations = 0;
  const start = performance.now();
  const end = start + durationMs;
  let now = start;
  while (now < end && operations < maxOperations) {
    const before = now;
    await operation(iteration++);
    now = performance.now();
    if (operations === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[operations++] = (now - before) * 1000;
  }
  const ms = now - start;
  const sorted = latencies.subarray(0, operations).sort();
  const p50Us = percentile(sorted, 0.5);
  const p99Us = percentile(sorted, 0.99);
  return {
    name,
    operations,
    ms,
    opsPerSec: ms > 0 ? (operations * 1000) / ms : 0,
    ...(p50Us === undefined ? {} : { p50Us }),
    ...(p99Us === undefined ? {} : { p99Us }),
  };
}

function formatCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  const digits =
    Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/**
 * Formats rows as a Markdown table (columns: the union of the rows' keys, in first-seen order;
 * numbers with thousands separators; numeric columns right-aligned).
 */
export function formatTable(rows: readonly Record<string, string | number>[]): string {
  const columns: string[] = [];
  for (const row of rows)
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  if (columns.length === 0) return "";
  const numeric = columns.map((column) => rows.some((row) => typeof row[column] === "number"));
  const cells = rows.map((row) =>
    columns.map((column) => formatCell(row[column]).replaceAll("|", "\\|")),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.length, 3, ...cells.map((line) => (line[i] as string).length)),
  );
  const pad = (value: string, i: number) =>
    numeric[i] ? value.padStart(widths[i] as number) : value.padEnd(widths[i] as number);
  const line = (values: readonly string[]) => `| ${values.map(pad).join(" | ")} |`;
  // The separator row in the layout Biome's Markdown formatter keeps, so pasted tables lint clean.
  const rule = line(
    widths.map((width, i) => (numeric[i] ? `${"-".repeat(width - 1)}:` : "-".repeat(width))),
  );
  return [line(columns), rule, ...cells.map(line)].join("\n");
}

/**
 * Prints a Markdown table (so it can be pasted into a README) with a title; numbers formatted
 * with thousands separators.
 */
export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  console.log(`\n### ${title}\n\n${formatTable(rows)}\n`);
}

/** One implementation to benchmark. */
export interface BenchCandidate<T> {
  /** The name shown in the table. */
  readonly name: string;
  /** Opens a fresh, empty instance. */
  create(): T | Promise<T>;
  /** Removes it afterwards (the instance is closed before this runs). */
  destroy?(instance: T): void | Promise<void>;
}

/** Options of {@link benchStore} and {@link benchQueue}. */
export interface PortBenchOptions {
  /** How long each measurement runs, in ms. Default 1,500. */
  durationMs?: number;
}

interface Measurement {
  readonly operation: string;
  readonly itemsPerOperation: number;
  readonly result: ThroughputResult;
}

async function benchCandidates<T extends { close(): Promise<void> }>(
  candidates: readonly BenchCandidate<T>[],
  run: (instance: T) => Promise<Measurement[]>,
): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  const baseline = new Map<string, number>();
  for (const candidate of candidates) {
    const instance = await candidate.create();
    let measurements: Measurement[];
    try {
      measurements = await run(instance);
    } finally {
      await instance.close();
      await candidate.destroy?.(instance);
    }
    for (const { operation, itemsPerOperation, result } of measurements) {
      const first = baseline.get(operation);
      if (first === undefined) baseline.set(operation, result.opsPerSec);
      rows.push({
        adapter: candidate.name,
        operation,
        "ops/s": Math.round(result.opsPerSec),
        "items/s": Math.round(result.opsPerSec * itemsPerOperation),
        "p50 µs": result.p50Us ?? 0,
        "p99 µs": result.p99Us ?? 0,
        "vs first":
          first === undefined || first === 0
            ? "1.00x"
            : `${(result.opsPerSec / first).toFixed(2)}x`,
      });
    }
  }
  return rows;
}

const benchValue = new TextEncoder().encode("x".repeat(100));

/**
 * The standard Store benchmarks, so every adapter reports the same numbers: guarded single-key
 * commits (sequential, each guarded on the previous version), batched commits of 100 sets
 * (items/s = keys/s), get of one of 1,000 keys, and list with limit 100. Values are 100 bytes.
 * Each candidate is measured in turn; returns rows for `printTable` with a "vs first" column.
 */
export function benchStore(
  candidates: readonly BenchCandidate<Store>[],
  options: PortBenchOptions = {},
): Promise<Record<string, string | number>[]> {
  const measure = { durationMs: options.durationMs ?? 1500, warmupMs: 200 };
  return benchCandidates(candidates, async (store) => {
    const out: Measurement[] = [];
    let lastVersion = (
      await store.commit([{ type: "set", key: "bench/guarded", value: benchValue }])
    ).version;
    out.push({
      operation: "guarded commit (1 key)",
      itemsPerOperation: 1,
      result: await measureThroughput(
        "guarded commit",
        async () => {
          lastVersion = (
            await store.commit([
              { type: "set", key: "bench/guarded", value: benchValue, expect: lastVersion },
            ])
          ).version;
        },
        measure,
      ),
    });
    out.push({
      operation: "batched commit (100 sets)",
      itemsPerOperation: 100,
      result: await measureThroughput(
        "batched commit",
        async (iteration) => {
          const base = (iteration % 50) * 100;
          await store.commit(
            Array.from({ length: 100 }, (_, i) => ({
              type: "set" as const,
              key: `bench/batch/${String(base + i).padStart(6, "0")}`,
              value: benchValue,
            })),
          );
        },
        measure,
      ),
    });
    for (let batch = 0; batch < 10; batch++) {
      await store.commit(
        Array.from({ length: 100 }, (_, i) => ({
          type: "set" as const,
          key: `bench/read/${String(batch * 100 + i).padStart(6, "0")}`,
          value: benchValue,
        })),
      );
    }
    out.push({
      operation: "get",
      itemsPerOperation: 1,
      result: await measureThroughput(
        "get",
        async (iteration) => {
          // A stride coprime with 1,000 walks the keys out of order.
          const index = (iteration * 397) % 1000;
          await store.get(`bench/read/${String(index).padStart(6, "0")}`);
        },
        measure,
      ),
    });
    out.push({
      operation: "list (limit 100)",
      itemsPerOperation: 100,
      result: await measureThroughput(
        "list",
        async (iteration) => {
          const start = (iteration * 37) % 900;
          await store.list({
            prefix: "bench/read/",
            start: `bench/read/${String(start).padStart(6, "0")}`,
            limit: 100,
          });
        },
        measure,
      ),
    });
    return out;
  });
}

/**
 * The standard Queue benchmarks: enqueue→claim→ack cycles of one item (sequential), and batched
 * cycles (enqueueMany 100, claim 100, one ackMany; items/s counts items). Payloads are 100 bytes.
 * Each candidate is measured in turn; returns rows for `printTable` with a "vs first" column.
 */
export function benchQueue(
  candidates: readonly BenchCandidate<Queue>[],
  options: PortBenchOptions = {},
): Promise<Record<string, string | number>[]> {
  const measure = { durationMs: options.durationMs ?? 1500, warmupMs: 200 };
  return benchCandidates(candidates, async (queue) => {
    const out: Measurement[] = [];
    out.push({
      operation: "enqueue→claim→ack (1 item)",
      itemsPerOperation: 1,
      result: await measureThroughput(
        "single cycle",
        async () => {
          await queue.enqueue({ payload: benchValue });
          const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
          if (!lease) throw new Error("benchQueue: the item just enqueued was not claimable");
          await queue.ack(lease);
        },
        measure,
      ),
    });
    out.push({
      operation: "batched cycle (100 items)",
      itemsPerOperation: 100,
      result: await measureThroughput(
        "batched cycle",
        async () => {
          await queue.enqueueMany(Array.from({ length: 100 }, () => ({ payload: benchValue })));
          const leases: Lease[] = [];
          for (let attempt = 0; leases.length < 100 && attempt < 100; attempt++) {
            leases.push(...(await queue.claim({ limit: 100 - leases.length, leaseMs: 60_000 })));
          }
          if (leases.length < 100)
            throw new Error(`benchQueue: claimed ${leases.length} of 100 items`);
          const { lost } = await queue.ackMany(leases);
          if (lost.length > 0) throw new Error(`benchQueue: ${lost.length} leases were lost`);
        },
        measure,
      ),
    });
    return out;
  });
}
