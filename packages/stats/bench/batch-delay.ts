// `resolveBatch` of 100,000 uncached actors on the calling thread and on worker threads, with
// the calling thread's event-loop delay while it runs (`perf_hooks.monitorEventLoopDelay`).
import { availableParallelism } from "node:os";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStatsAggregator, type StatsWorkerOptions } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const ACTORS = 100_000;
const MODULE = new URL("./batch-subsystems.ts", import.meta.url);

interface DelayRow {
  readonly label: string;
  readonly workers?: StatsWorkerOptions;
  /** Measure the event loop with nothing to do, as long as the last batch took. */
  readonly idle?: boolean;
}

// The histogram samples a 1 ms timer and records each interval: what exceeds 1 ms is delay.
const delayMs = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);

/** The calling thread's garbage collections while `run` runs: count, total and longest, by kind. */
export async function withGcTrace<T>(run: () => Promise<T>): Promise<{ result: T; gc: string }> {
  const pauses: { kind: number; ms: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses.push({
        kind: (entry as unknown as { detail: { kind: number } }).detail.kind,
        ms: entry.duration,
      });
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const result = await run();
  await new Promise((resolve) => setImmediate(resolve)); // the last entries are delivered
  observer.disconnect();
  const kinds: [number, string][] = [
    [constants.NODE_PERFORMANCE_GC_MINOR, "scavenge"],
    [constants.NODE_PERFORMANCE_GC_MAJOR, "mark-compact"],
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL, "incremental"],
    [constants.NODE_PERFORMANCE_GC_WEAKCB, "weak callbacks"],
  ];
  const parts = kinds.flatMap(([kind, name]) => {
    const mine = pauses.filter((pause) => pause.kind === kind);
    if (mine.length === 0) return [];
    const total = mine.reduce((sum, pause) => sum + pause.ms, 0);
    const longest = Math.max(...mine.map((pause) => pause.ms));
    return [`${mine.length} ${name} ${total.toFixed(0)} ms (max ${longest.toFixed(1)})`];
  });
  const over1 = pauses.filter((pause) => pause.ms > 1).length;
  return { result, gc: `${parts.join(", ") || "none"}; ${over1} pauses > 1 ms` };
}

/** One batch per row after a warm-up batch, each of fresh actor versions (every actor a miss). */
async function measure(row: DelayRow, idleMs: number): Promise<Record<string, string | number>> {
  const engine = createStatsAggregator({
    combiner: workloadRegistry(),
    subsystems: workloadSubsystems("emit-fresh"),
    ...(row.workers === undefined ? {} : { workers: row.workers }),
  });
  let version = 0;
  const batch = () => {
    version++;
    return Array.from({ length: ACTORS }, (_, index) => workloadActor(`actor_${index}`, version));
  };
  if (!row.idle) await engine.resolveBatch(batch());
  const actors = batch();
  // The actors exist before the batch, as a server's would: out of the young generation first.
  gc();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  const elu = performance.eventLoopUtilization();
  const { result: results, gc: gcTrace } = await withGcTrace(() =>
    row.idle
      ? new Promise<unknown[]>((resolve) => setTimeout(() => resolve([]), idleMs))
      : engine.resolveBatch(actors),
  );
  const busy = performance.eventLoopUtilization(elu);
  const elapsed = performance.now() - started;
  histogram.disable();
  await engine.close();
  if (results.some((result) => (result as { error?: unknown }).error !== undefined)) {
    throw new Error("a batch actor failed");
  }
  // No turn at all: the batch held the loop from start to end.
  const blocked = histogram.count === 0;
  return {
    measurement: row.idle
      ? "event loop with nothing to do (the machine's own noise), as long as the last batch"
      : `resolveBatch of 100,000 uncached actors, ${row.label}`,
    "ops/s (CPU time)": row.idle
      ? ""
      : `${Math.round((ACTORS / busy.active) * 1000).toLocaleString("en-US")} actors per calling-thread busy s`,
    "ops/s (wall)": row.idle
      ? ""
      : `${Math.round((ACTORS / elapsed) * 1000).toLocaleString("en-US")} actors/s`,
    "p50 µs": blocked ? "loop blocked" : `loop delay p50 ${delayMs(histogram.percentile(50))} ms`,
    "p99 µs": blocked
      ? `${elapsed.toFixed(0)} ms in one turn`
      : `p99 ${delayMs(histogram.percentile(99))} ms, max ${delayMs(histogram.max)} ms`,
    goal: row.workers === undefined ? "" : "loop delay p99 < 1 ms",
    "calling thread's GC": gcTrace,
    elapsed,
  };
}

/** The rows: the calling thread alone, the default pool, one worker per core, then idle. */
export async function batchDelayRows(): Promise<Record<string, string | number>[]> {
  const rows: DelayRow[] = [
    { label: "on the calling thread" },
    { label: "on worker threads (default: cores − 1)", workers: { module: MODULE } },
    {
      label: "on worker threads (one per core)",
      workers: { module: MODULE, threads: availableParallelism() },
    },
    {
      label: 'on worker threads (default), snapshots: "lazy"',
      workers: { module: MODULE, snapshots: "lazy" },
    },
    { label: "idle", idle: true },
  ];
  const measured: Record<string, string | number>[] = [];
  let last = 1000;
  for (const row of rows) {
    const { elapsed, ...printed } = await measure(row, last);
    last = Number(elapsed);
    measured.push(printed);
  }
  return measured;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await batchDelayRows()) console.log(JSON.stringify(row));
}
