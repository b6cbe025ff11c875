// Actor system benchmark: in-process call throughput per CPU-second, call latency, activations
// per second and heap bytes per idle activation (memory Store and Queue, so the numbers are the
// actor runtime's own cost), then the cluster's cross-node calls. Rates are the best of
// ACTORS_BENCH_RUNS (default 3) windows. Run with `pnpm bench`
// (tsx --conditions=source bench/index.ts); add NODE_OPTIONS=--expose-gc for the memory row.
import { performance } from "node:perf_hooks";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { measureThroughput, printTable } from "@troupe/testkit";
import { z } from "zod";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";
import { benchCluster } from "./cluster.js";

const DURATION_MS = Number(process.env.ACTORS_BENCH_MS ?? 1500);
const ACTIVATIONS = Number(process.env.ACTORS_BENCH_ACTIVATIONS ?? 50_000);
/** Each rate is the best of this many windows: the machine is shared, so the best is the least disturbed. */
const RUNS = Number(process.env.ACTORS_BENCH_RUNS ?? 3);

interface Rate {
  readonly cpu: number;
  readonly wall: number;
}

/** Runs `window` RUNS times and keeps the best CPU rate (and the wall rate of that window). */
async function bestOf(window: () => Promise<Rate>): Promise<Rate> {
  let best: Rate = { cpu: 0, wall: 0 };
  for (let run = 0; run < RUNS; run++) {
    const rate = await window();
    if (rate.cpu > best.cpu) best = rate;
  }
  return best;
}

/** Calls per CPU-second and per wall-second of `batch` (which makes `size` calls) over DURATION_MS. */
async function rateOf(batch: () => Promise<void>, size: number): Promise<Rate> {
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < DURATION_MS) {
    await batch();
    calls += size;
  }
  const cpu = process.cpuUsage(cpuBefore);
  const wallSeconds = (performance.now() - start) / 1000;
  return { cpu: calls / ((cpu.user + cpu.system) / 1e6), wall: calls / wallSeconds };
}

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    // An async handler: the reply waits for its promise (and the call timeout is armed).
    getLater: { readOnly: true, handler: async (ctx) => ctx.state.count },
    touch(ctx) {
      // A write turn that leaves the state as it was: no Store write.
      return ctx.state.count;
    },
  },
});

function open(): ActorSystem {
  return createActorSystem({
    store: createMemoryStore(),
    queue: createMemoryQueue(),
    actors: [Counter],
  });
}

const rows: Record<string, string | number>[] = [];
const goals = {
  calls: "≥ 1,000,000 calls/s",
  bytes: "≤ 2,048 B",
  writes: "(none: each reply waits for its Store write)",
};

/** Calls per CPU-second (user + system time of this process), sequential awaits. */
async function callsPerCpuSecond(
  name: string,
  call: () => Promise<unknown>,
  goal = goals.calls,
): Promise<void> {
  // Warm up so the measured loop runs optimised code.
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) for (let i = 0; i < 1000; i++) await call();
  const rate = await bestOf(() =>
    rateOf(async () => {
      for (let i = 0; i < 1000; i++) await call();
    }, 1000),
  );
  const latency = await measureThroughput(
    name,
    async () => {
      await call();
    },
    { durationMs: Math.min(DURATION_MS, 1000), warmupMs: 100 },
  );
  rows.push({
    measure: name,
    "calls/CPU-s": Math.round(rate.cpu),
    "calls/s (wall)": Math.round(rate.wall),
    "p50 µs": latency.p50Us ?? 0,
    "p99 µs": latency.p99Us ?? 0,
    goal,
  });
}

/** Calls per CPU-second with `width` calls in flight (Promise.all batches). */
async function batchedCallsPerCpuSecond(
  name: string,
  width: number,
  call: () => Promise<unknown>,
  goal = goals.calls,
): Promise<void> {
  const batch = new Array<Promise<unknown>>(width);
  const runBatch = async () => {
    for (let i = 0; i < width; i++) batch[i] = call();
    await Promise.all(batch);
  };
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) await runBatch();
  const rate = await bestOf(() => rateOf(runBatch, width));
  rows.push({
    measure: name,
    "calls/CPU-s": Math.round(rate.cpu),
    "calls/s (wall)": Math.round(rate.wall),
    goal,
  });
}

{
  const system = open();
  const counter = system.get(Counter, "hot");
  await counter.increment(1);
  await callsPerCpuSecond("readOnly call (get), sequential", () => counter.get());
  await callsPerCpuSecond("write call, state unchanged (touch), sequential", () => counter.touch());
  await batchedCallsPerCpuSecond("readOnly call (get), 1,000 in flight", 1000, () => counter.get());
  await callsPerCpuSecond("async readOnly call (getLater), sequential", () => counter.getLater());
  await callsPerCpuSecond(
    "increment (state written to memory Store), sequential",
    () => counter.increment(1),
    goals.writes,
  );
  await batchedCallsPerCpuSecond(
    "increment (state written, batched per flush), 1,000 in flight",
    1000,
    () => counter.increment(1),
    goals.writes,
  );
  await system.close();
}

// Activations per second: first calls to distinct actors (claim + state read + activation).
{
  const count = 20_000;
  const rate = await bestOf(async () => {
    const system = open();
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    for (let offset = 0; offset < count; offset += 1000) {
      const calls: Promise<unknown>[] = [];
      for (let i = offset; i < offset + 1000; i++) calls.push(system.get(Counter, `a${i}`).get());
      await Promise.all(calls);
    }
    const wallSeconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await system.close();
    return { cpu: count / ((cpu.user + cpu.system) / 1e6), wall: count / wallSeconds };
  });
  rows.push({
    measure: "activations (first call to a new actor, memory Store)",
    "calls/CPU-s": Math.round(rate.cpu),
    "calls/s (wall)": Math.round(rate.wall),
    goal: "(none set)",
  });
}

// Heap bytes per idle activation: N actors activated and left idle, heap measured after GC.
{
  const gc = (globalThis as { gc?: () => void }).gc;
  const collect = async () => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const system = open();
  await collect();
  const before = process.memoryUsage().heapUsed;
  for (let offset = 0; offset < ACTIVATIONS; offset += 1000) {
    const calls: Promise<unknown>[] = [];
    for (let i = offset; i < offset + 1000; i++) calls.push(system.get(Counter, `m${i}`).get());
    await Promise.all(calls);
  }
  await collect();
  const after = process.memoryUsage().heapUsed;
  const perActivation = (after - before) / ACTIVATIONS;
  rows.push({
    measure: `bytes per idle activation (${ACTIVATIONS.toLocaleString("en-US")} actors, heap delta${gc ? " after GC" : ", no --expose-gc"})`,
    "bytes/activation": Math.round(perActivation),
    goal: goals.bytes,
  });
  if (system.activationCount() !== ACTIVATIONS) throw new Error("activations went missing");
  await system.close();
}

printTable("In-process actor calls (one process, memory Store and Queue)", rows);

if (process.env.ACTORS_BENCH_CLUSTER !== "0") {
  printTable("Cross-node actor calls (two systems in one process)", await benchCluster());
}
