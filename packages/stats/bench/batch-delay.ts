// `resolveBatch` (and `resolveBatchCompact`) of 100,000 uncached actors on the calling thread and
// on worker threads, with the calling thread's event-loop delay while it runs: a 1 ms timer
// (`perf_hooks.monitorEventLoopDelay`, what exceeds 1 ms is delay), and for the compact rows also
// a turn sampler (every turn of the loop timed, sub-microsecond: the longest task it ran).
// `BATCH_DELAY_ROWS=compact` runs only the compact rows and the idle ones; `BATCH_NICE` sets
// `workers.nice` (0: the workers at the calling thread's priority, as before it existed);
// `BATCH_DELAY_RESOLUTION` the timer's period in ms (default 1; what exceeds it is delay);
// `BATCH_DELAY_WARMUPS` the batches each pooled row resolves before the measured one (default 3).
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import {
  constants,
  createHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  type RecordableHistogram,
} from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker } from "node:worker_threads";
import { createStatsAggregator, type StatsWorkerOptions } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const ACTORS = 100_000;
const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const NICE = process.env.BATCH_NICE === undefined ? {} : { nice: Number(process.env.BATCH_NICE) };
/** Actors per chunk the pool sends (`CHUNK_SIZE`): the idle loop's messages come as often. */
const CHUNKS = Math.ceil(ACTORS / 128);
/** Batches resolved before the measured one, on the same aggregator. */
const WARMUPS = Number(process.env.BATCH_DELAY_WARMUPS ?? 3);
/** The timer's period, ms (`monitorEventLoopDelay`'s `resolution`). */
const RESOLUTION = Number(process.env.BATCH_DELAY_RESOLUTION ?? 1);

interface DelayRow {
  readonly label: string;
  readonly workers?: StatsWorkerOptions;
  /** Through `resolveBatchCompact` (one object per batch) instead of `resolveBatch`. */
  readonly compact?: boolean;
  /**
   * `"timer"`: the 1 ms timer of `monitorEventLoopDelay`. `"turns"`: a `setImmediate` chain that
   * times every turn of the loop (what any event arriving then waits at most); it keeps the
   * calling thread busy, so its rows take CPU from the workers.
   */
  readonly sampler?: "timer" | "turns";
  /** Measure the event loop with nothing to do, as long as the last batch took. */
  readonly idle?: boolean;
  /**
   * With `idle`: a worker thread posts the calling thread an empty message as often as the last
   * batch's chunks arrived. The loop does nothing with them, but wakes for each, and a 1 ms timer
   * is then up to ~1 ms late by libuv's millisecond clock alone: the floor of the timer's delay
   * during any batch on the pool.
   */
  readonly messages?: boolean;
}

// The timer histogram samples a timer of RESOLUTION ms and records each interval: what exceeds
// it is delay.
const timerDelayMs = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION).toFixed(2);
// The turn sampler records each turn's length: that is the delay.
const turnDelayMs = (ns: number) => (ns / 1e6).toFixed(3);

interface Sampler {
  readonly histogram: { count: number; max: number; percentile(p: number): number };
  readonly delayMs: (ns: number) => string;
  /** For the turn sampler: turns over 0.5 ms and over 1 ms, of all turns. */
  readonly long?: () => string;
  stop(): void;
}

function timerSampler(): Sampler {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION });
  histogram.enable();
  return { histogram, delayMs: timerDelayMs, stop: () => histogram.disable() };
}

/** Times every turn of the event loop (setImmediate to setImmediate) into a histogram (ns). */
function turnSampler(): Sampler {
  const histogram: RecordableHistogram = createHistogram();
  // performance.now() rather than hrtime.bigint(): a BigInt per turn is garbage for the collector.
  let last = performance.now();
  let running = true;
  let overHalf = 0;
  let overOne = 0;
  const tick = () => {
    const now = performance.now();
    const ns = Math.max(1, Math.round((now - last) * 1e6));
    histogram.record(ns);
    if (ns > 500_000) overHalf++;
    if (ns > 1_000_000) overOne++;
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    histogram,
    delayMs: turnDelayMs,
    long: () =>
      `turns > 0.5 ms: ${overHalf}, > 1 ms: ${overOne}, of ${histogram.count}; p99.9 ${turnDelayMs(histogram.percentile(99.9))} ms`,
    stop: () => {
      running = false;
    },
  };
}

/**
 * The calling thread's own CPU time in ms (Linux: its /proc task entry, 10 ms ticks), or undefined
 * elsewhere. `process.cpuUsage()` counts every thread, the workers' too.
 */
function callingThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

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

/** A worker thread posting an empty message every `ms` (the answer to nothing). */
export function messagesEvery(ms: number): Worker {
  const source = `const { parentPort } = require("node:worker_threads");
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (;;) { Atomics.wait(cell, 0, 0, ${ms}); parentPort.postMessage(0); }`;
  const worker = new Worker(source, { eval: true });
  worker.on("message", () => {});
  return worker;
}

/** One batch per row after warm-up batches, each of fresh actor versions (every actor a miss). */
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
  // Warm-up batches, each of fresh actors: a process's first batches on the pool run while V8
  // still compiles the batch path on its helper threads, which take a core from the calling
  // thread (the README's round of 2026-12-07, afternoon); a server running batches is past that.
  for (let warm = 0; !row.idle && warm < WARMUPS; warm++) {
    if (row.compact) await engine.resolveBatchCompact(batch());
    else await engine.resolveBatch(batch());
  }
  const actors = batch();
  // The actors exist before the batch, as a server's would: out of the young generation first.
  gc();
  const sampler = row.sampler === "turns" ? turnSampler() : timerSampler();
  const { histogram, delayMs } = sampler;
  const started = performance.now();
  const cpuBefore = callingThreadCpuMs();
  const elu = performance.eventLoopUtilization();
  const { result: failures, gc: gcTrace } = await withGcTrace(async () => {
    if (row.idle) {
      const pinger = row.messages === true ? messagesEvery(idleMs / CHUNKS) : undefined;
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      await pinger?.terminate();
      return 0;
    }
    if (row.compact) {
      const compact = await engine.resolveBatchCompact(actors);
      let failed = 0;
      for (let i = 0; i < compact.length; i++) if (compact.error(i) !== undefined) failed++;
      return failed;
    }
    const results = await engine.resolveBatch(actors);
    return results.filter((result) => result.error !== undefined).length;
  });
  const busy = performance.eventLoopUtilization(elu);
  const cpuAfter = callingThreadCpuMs();
  const elapsed = performance.now() - started;
  sampler.stop();
  await engine.close();
  if (failures > 0) throw new Error(`${failures} batch actors failed`);
  // No turn at all: the batch held the loop from start to end.
  const blocked = histogram.count === 0;
  return {
    measurement: row.idle
      ? `event loop with nothing to do (the machine's own noise), as long as the last batch${row.sampler === "turns" ? ", every turn timed" : ""}${row.messages === true ? ", woken by an empty message as often as its chunks arrived" : ""}`
      : `${row.compact ? "resolveBatchCompact" : "resolveBatch"} of 100,000 uncached actors, ${row.label}`,
    "ops/s (CPU time)": row.idle
      ? ""
      : `${Math.round((ACTORS / busy.active) * 1000).toLocaleString("en-US")} actors per calling-thread busy s`,
    "ops/s (wall)": row.idle
      ? ""
      : `${Math.round((ACTORS / elapsed) * 1000).toLocaleString("en-US")} actors/s`,
    "p50 µs": blocked
      ? "loop blocked"
      : `loop delay (${row.sampler === "turns" ? "every turn timed" : `${RESOLUTION} ms timer`}) p50 ${delayMs(histogram.percentile(50))} ms`,
    "p99 µs": blocked
      ? `${elapsed.toFixed(0)} ms in one turn`
      : `p99 ${delayMs(histogram.percentile(99))} ms, max ${delayMs(histogram.max)} ms`,
    goal: row.workers === undefined ? "" : "loop delay p99 < 1 ms",
    ...(sampler.long === undefined ? {} : { turns: sampler.long() }),
    "calling thread's CPU ms":
      cpuBefore === undefined || cpuAfter === undefined ? "" : cpuAfter - cpuBefore,
    "calling thread's GC": gcTrace,
    elapsed,
  };
}

/** The rows: the calling thread alone, the default pool, one worker per core, then idle. */
export async function batchDelayRows(): Promise<Record<string, string | number>[]> {
  const rows: DelayRow[] = [
    { label: "on the calling thread" },
    { label: "on worker threads (default: cores − 1)", workers: { module: MODULE, ...NICE } },
    {
      label: "on worker threads (one per core)",
      workers: { module: MODULE, threads: availableParallelism(), ...NICE },
    },
    {
      label: 'on worker threads (default), snapshots: "lazy"',
      workers: { module: MODULE, snapshots: "lazy", ...NICE },
    },
    { label: "on worker threads (default)", workers: { module: MODULE, ...NICE }, compact: true },
    {
      label: "on worker threads (default), every turn timed",
      workers: { module: MODULE, ...NICE },
      compact: true,
      sampler: "turns",
    },
    { label: "idle", idle: true },
    { label: "idle, every turn timed", idle: true, sampler: "turns" },
    { label: "idle, woken by messages", idle: true, messages: true },
  ];
  const only = process.env.BATCH_DELAY_ROWS === "compact";
  const measured: Record<string, string | number>[] = [];
  let last = 1000;
  // The messages row copies the last batch timed by the 1 ms timer (the turn sampler slows its own).
  let lastTimed = 1000;
  for (const row of only ? rows.filter((row) => row.compact || row.idle) : rows) {
    const { elapsed, ...printed } = await measure(row, row.messages === true ? lastTimed : last);
    last = Number(elapsed);
    if (!row.idle && row.sampler !== "turns") lastTimed = last;
    measured.push(printed);
  }
  return measured;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await batchDelayRows()) console.log(JSON.stringify(row));
}
