// What the calling thread's late timer ticks are made of during a 100,000-actor
// `resolveBatchCompact` on the worker pool (Linux only): a 1 ms interval timer reads the calling
// thread's `/proc/self/task/<tid>/schedstat` (time on a CPU, time runnable but waiting for one)
// at every tick, so each tick that comes over 1 ms late splits into the calling thread's own
// work, its wait for a core (descheduled), and sleep (the timer itself late). The same over an
// idle loop of the batch's length is the machine's own share.
// `npx tsx --conditions=source bench/loop-sched.ts` (`LOOP_SCHED_RUNS`, default 2, batches;
// `BATCH_NICE` sets `workers.nice`). It prints the thread ids and each batch's CLOCK_MONOTONIC
// window, to cut a `perf record -k mono -a -e sched:sched_switch -e sched:sched_waking` trace to
// the batch and see what ran on the core the calling thread waited for.
import { openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStatsAggregator } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const ACTORS = 100_000;
const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const RUNS = Number(process.env.LOOP_SCHED_RUNS ?? 2);

/** A thread's schedstat: ns on a CPU, ns runnable and waiting, timeslices. */
function schedReader(tid: number): () => [number, number] {
  const fd = openSync(`/proc/self/task/${tid}/schedstat`, "r");
  const buffer = Buffer.alloc(96);
  return () => {
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    const [cpu, wait] = buffer.toString("latin1", 0, n).split(" ");
    return [Number(cpu), Number(wait)];
  };
}

/** The threads of this process with their CPU ticks (utime + stime). */
function threadTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return ticks;
}

interface Tally {
  ticks: number;
  late: number;
  lateWaitMs: number;
  lateCpuMs: number;
  lateSleepMs: number;
  mostlyWaiting: number;
  mostlyCpu: number;
  mostlySleep: number;
  workerCpuInLateMs: number;
}

/** Runs a 1 ms interval sampler until `until` settles, classifying ticks > 1 ms late. */
async function sample(until: Promise<unknown>, workerTid: number | undefined): Promise<string> {
  const main = schedReader(process.pid);
  const worker = workerTid === undefined ? undefined : schedReader(workerTid);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const tally: Tally = {
    ticks: 0,
    late: 0,
    lateWaitMs: 0,
    lateCpuMs: 0,
    lateSleepMs: 0,
    mostlyWaiting: 0,
    mostlyCpu: 0,
    mostlySleep: 0,
    workerCpuInLateMs: 0,
  };
  let last = performance.now();
  let [lastCpu, lastWait] = main();
  let lastWorker = worker?.()[0] ?? 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const [cpu, wait] = main();
    const workerCpu = worker?.()[0] ?? 0;
    tally.ticks++;
    const delay = now - last - 1;
    if (delay > 1) {
      const dCpu = (cpu - lastCpu) / 1e6;
      const dWait = (wait - lastWait) / 1e6;
      const dSleep = Math.max(0, now - last - dCpu - dWait);
      tally.late++;
      tally.lateCpuMs += dCpu;
      tally.lateWaitMs += dWait;
      tally.lateSleepMs += dSleep;
      tally.workerCpuInLateMs += (workerCpu - lastWorker) / 1e6;
      if (dWait >= dCpu && dWait >= dSleep) tally.mostlyWaiting++;
      else if (dCpu >= dSleep) tally.mostlyCpu++;
      else tally.mostlySleep++;
    }
    last = now;
    lastCpu = cpu;
    lastWait = wait;
    lastWorker = workerCpu;
  }, 1);
  eld.enable();
  await until;
  eld.disable();
  clearInterval(timer);
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);
  return (
    `eld p99 ${ms(eld.percentile(99))} ms max ${ms(eld.max)} ms; ticks ${tally.ticks}, > 1 ms late ${tally.late} ` +
    `(mostly waiting for a core ${tally.mostlyWaiting}, on CPU ${tally.mostlyCpu}, asleep ${tally.mostlySleep}); ` +
    `in late ticks: waiting ${tally.lateWaitMs.toFixed(1)} ms, on CPU ${tally.lateCpuMs.toFixed(1)} ms, ` +
    `asleep ${tally.lateSleepMs.toFixed(1)} ms, worker on CPU ${tally.workerCpuInLateMs.toFixed(1)} ms`
  );
}

const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems("emit-fresh"),
  workers: {
    module: MODULE,
    ...(process.env.BATCH_NICE === undefined ? {} : { nice: Number(process.env.BATCH_NICE) }),
  },
});
let version = 0;
const batch = () => {
  version++;
  return Array.from({ length: ACTORS }, (_, index) => workloadActor(`actor_${index}`, version));
};
const before = threadTicks();
await engine.resolveBatchCompact(batch());
const after = threadTicks();
// The worker: the thread, other than the calling one, that worked most in the warm-up batch.
let workerTid: number | undefined;
let most = -1;
for (const [tid, ticks] of after) {
  const grew = ticks - (before.get(tid) ?? 0);
  if (tid !== process.pid && grew > most) {
    most = grew;
    workerTid = tid;
  }
}
console.log(`calling thread ${process.pid}, worker thread ${workerTid}`);
for (let run = 0; run < RUNS; run++) {
  const actors = batch();
  gc();
  const started = performance.now();
  const from = process.hrtime();
  const line = await sample(engine.resolveBatchCompact(actors), workerTid);
  const to = process.hrtime();
  const elapsed = performance.now() - started;
  // CLOCK_MONOTONIC, for a trace taken with `perf record -k mono`.
  console.log(`window ${from[0] + from[1] / 1e9} ${to[0] + to[1] / 1e9}`);
  console.log(
    `batch ${elapsed.toFixed(0)} ms (${Math.round((ACTORS / elapsed) * 1000).toLocaleString("en-US")} actors/s): ${line}`,
  );
  const idle = await sample(new Promise((resolve) => setTimeout(resolve, elapsed)), workerTid);
  console.log(`idle  ${elapsed.toFixed(0)} ms: ${idle}`);
}
await engine.close();
