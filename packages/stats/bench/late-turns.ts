// What the calling thread did during the 1 ms timer's late ticks of a 100,000-actor
// `resolveBatchCompact` (Linux): a V8 CPU profile (inspector, `LATE_TURNS_INTERVAL_US`, default
// 50 µs) is cut to the windows between two ticks of a 1 ms interval timer that came over 1 ms
// late, and each window splits into the profile's samples by what was on top of the stack (the
// thread's own JS, Node's message port and worker internals, the collector, idle in epoll), with the
// thread's schedstat (time waiting for a core) read at each tick. The same over an idle loop
// woken by an empty message as often as the batch's chunks arrived (the timer's floor). Each
// window also lists its late ticks in time order (with the samples that were not idle in each) and
// every thread's CPU time and wait for a core (the calling thread, the worker, V8's helpers).
// `npx tsx --conditions=source bench/late-turns.ts` (`LATE_TURNS_RUNS`, default 2, pairs;
// `LATE_TURNS_INTERVAL_US=0`: no profile, the timer and schedstat alone).
import { openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStatsAggregator } from "../src/index.js";
import { messagesEvery } from "./batch-delay.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const ACTORS = 100_000;
const CHUNKS = Math.ceil(ACTORS / 128);
const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const RUNS = Number(process.env.LATE_TURNS_RUNS ?? 2);
const INTERVAL_US = Number(process.env.LATE_TURNS_INTERVAL_US ?? 50);

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const fd = openSync(`/proc/self/task/${process.pid}/schedstat`, "r");
const buffer = Buffer.alloc(96);
/** The calling thread's ns on a CPU and ns runnable but waiting for one. */
function sched(): [number, number] {
  const [cpu, wait] = buffer.toString("latin1", 0, readSync(fd, buffer, 0, 96, 0)).split(" ");
  return [Number(cpu), Number(wait)];
}

/** Every thread of the process: ns on a CPU, ns waiting for one, and its nice value. */
function threads(): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const [cpu, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, "latin1").split(" ");
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "latin1");
      const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      out.set(tid, [Number(cpu), Number(wait), nice]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** What each thread that ran > 1 ms did between two {@link threads} reads. */
function threadsLine(before: Map<string, [number, number, number]>): string {
  const parts: string[] = [];
  for (const [tid, [cpu, wait, nice]] of threads()) {
    const [cpu0, wait0] = before.get(tid) ?? [0, 0];
    if (cpu - cpu0 < 1e6) continue;
    const who = tid === String(process.pid) ? "calling thread" : `thread ${tid}`;
    parts.push(
      `${who} (nice ${nice}) cpu ${((cpu - cpu0) / 1e6).toFixed(1)} ms, waited ${((wait - wait0) / 1e6).toFixed(1)} ms`,
    );
  }
  return parts.join("; ");
}

/** The profile clock (µs, CLOCK_MONOTONIC) minus performance.now() in µs. */
const offsetUs = Number(process.hrtime.bigint()) / 1e3 - performance.now() * 1e3;

/** A sample's place: the nearest frame that names a part (our code, Node), or V8's own. */
function categories(profile: Profile): Map<number, string> {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const place = (node: ProfileNode): string | undefined => {
    const { functionName, url } = node.callFrame;
    if (functionName === "(idle)") return "idle (epoll)";
    if (functionName === "(garbage collector)") return "garbage collector";
    if (functionName === "(program)") return "(program): V8/Node native, no JS on the stack";
    if (url.includes("/packages/stats/src/")) return `stats: ${functionName || "(anonymous)"}`;
    if (url.includes("/packages/stats/bench/")) return `bench: ${functionName || "(anonymous)"}`;
    return undefined;
  };
  const out = new Map<number, string>();
  for (const node of profile.nodes) {
    let at: ProfileNode | undefined = node;
    let found: string | undefined;
    while (at !== undefined && found === undefined) {
      found = place(at);
      const up = parent.get(at.id);
      at = up === undefined ? undefined : byId.get(up);
    }
    const { functionName, url } = node.callFrame;
    out.set(node.id, found ?? `node: ${functionName || "(anonymous)"} ${url.replace(/.*\//, "")}`);
  }
  return out;
}

interface Tick {
  readonly at: number;
  readonly cpu: number;
  readonly wait: number;
}

async function sampled(session: Session, run: () => Promise<unknown>): Promise<string> {
  const ticks: Tick[] = [];
  const threadsBefore = threads();
  const [cpu0, wait0] = sched();
  ticks.push({ at: performance.now(), cpu: cpu0, wait: wait0 });
  if (INTERVAL_US > 0) await session.post("Profiler.start");
  const timer = setInterval(() => {
    const [cpu, wait] = sched();
    ticks.push({ at: performance.now(), cpu, wait });
  }, 1);
  await run();
  clearInterval(timer);
  const perThread = threadsLine(threadsBefore);
  const profile =
    INTERVAL_US > 0
      ? ((await session.post("Profiler.stop")) as unknown as { profile: Profile }).profile
      : { nodes: [], startTime: 0, samples: [], timeDeltas: [] };
  const place = categories(profile);
  // Sample times on performance.now()'s scale, ms.
  const times: number[] = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) {
    t += delta;
    times.push((t - offsetUs) / 1e3);
  }
  const late: { from: number; to: number; cpu: number; wait: number }[] = [];
  for (let i = 1; i < ticks.length; i++) {
    const a = ticks[i - 1] as Tick;
    const b = ticks[i] as Tick;
    if (b.at - a.at - 1 > 1) {
      late.push({
        from: a.at,
        to: b.at,
        cpu: (b.cpu - a.cpu) / 1e6,
        wait: (b.wait - a.wait) / 1e6,
      });
    }
  }
  const inLate = new Map<string, number>();
  const all = new Map<string, number>();
  let sampleIndex = 0;
  let lateIndex = 0;
  const perWindow: Map<string, number>[] = [];
  for (let s = 0; s < times.length; s++) {
    const time = times[s] as number;
    const name = place.get(profile.samples[s] as number) as string;
    all.set(name, (all.get(name) ?? 0) + 1);
    while (lateIndex < late.length && (late[lateIndex] as { to: number }).to < time) lateIndex++;
    const window = late[lateIndex];
    if (window !== undefined && window.from <= time && time <= window.to) {
      inLate.set(name, (inLate.get(name) ?? 0) + 1);
      sampleIndex++;
      if (name !== "idle (epoll)") {
        const own = perWindow[lateIndex] ?? new Map<string, number>();
        perWindow[lateIndex] = own;
        own.set(name, (own.get(name) ?? 0) + 1);
      }
    }
  }
  // Each late tick in time order: ms from the window's start, its lateness, and the samples in it
  // that were not idle.
  const start = (ticks[0] as Tick).at;
  const order = late.map((w, index) => {
    const own = [...(perWindow[index] ?? new Map<string, number>())]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([name, count]) => `${count}× ${name}`)
      .join(", ");
    return `    @${(w.from - start).toFixed(1)} ms: ${(w.to - w.from - 1).toFixed(2)} ms late, cpu ${w.cpu.toFixed(2)} wait ${w.wait.toFixed(2)}${own === "" ? "" : `; ${own}`}`;
  });
  const lateMs = late.reduce((sum, w) => sum + (w.to - w.from), 0);
  const lateCpu = late.reduce((sum, w) => sum + w.cpu, 0);
  const lateWait = late.reduce((sum, w) => sum + w.wait, 0);
  const mostlyWaiting = late.filter(
    (w) => w.wait >= w.cpu && w.wait >= w.to - w.from - w.cpu - w.wait,
  ).length;
  const mostlyCpu = late.filter(
    (w) => w.cpu > w.wait && w.cpu >= w.to - w.from - w.cpu - w.wait,
  ).length;
  const top = (counts: Map<string, number>, n: number) =>
    [...counts]
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([name, count]) => `${((count * INTERVAL_US) / 1e3).toFixed(1)} ms ${name}`)
      .join("; ");
  const lateness = late.map((w) => w.to - w.from - 1).sort((x, y) => x - y);
  // Every tick's lateness, and the same over the ticks in which the thread waited for no core
  // (< 50 µs runnable): the machine's load taken out, as far as the kernel's account goes.
  const every: number[] = [];
  const unwaited: number[] = [];
  for (let i = 1; i < ticks.length; i++) {
    const a = ticks[i - 1] as Tick;
    const b = ticks[i] as Tick;
    every.push(b.at - a.at - 1);
    if (b.wait - a.wait < 50_000) unwaited.push(b.at - a.at - 1);
  }
  const pct = (xs: number[], p: number) =>
    (xs.sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0).toFixed(2);
  return [
    `ticks ${ticks.length - 1}, > 1 ms late ${late.length} (lateness median ${(lateness[lateness.length >> 1] ?? 0).toFixed(2)} ms), ${lateMs.toFixed(1)} ms in them:`,
    `  lateness p50 / p99 / max: every tick ${pct(every, 0.5)} / ${pct(every, 0.99)} / ${pct(every, 1)} ms; the ${unwaited.length} ticks that waited for no core ${pct(unwaited, 0.5)} / ${pct(unwaited, 0.99)} / ${pct(unwaited, 1)} ms, ${unwaited.filter((ms) => ms > 1).length} of them > 1 ms late`,
    `  schedstat in late ticks: on CPU ${lateCpu.toFixed(1)} ms, waiting for a core ${lateWait.toFixed(1)} ms, asleep ${(lateMs - lateCpu - lateWait).toFixed(1)} ms; mostly waiting ${mostlyWaiting}, mostly on CPU ${mostlyCpu}, mostly asleep ${late.length - mostlyWaiting - mostlyCpu}`,
    `  profile samples in late ticks (${sampleIndex}, ~${INTERVAL_US} µs each): ${top(inLate, 8)}`,
    `  profile samples over the whole window (${times.length}): ${top(all, 8)}`,
    `  threads: ${perThread}`,
    `  the window lasted ${((ticks[ticks.length - 1] as Tick).at - start).toFixed(1)} ms; late ticks in time order:`,
    ...order,
  ].join("\n");
}

const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems("emit-fresh"),
  workers: { module: MODULE },
});
let version = 0;
const batch = () => {
  version++;
  return Array.from({ length: ACTORS }, (_, index) => workloadActor(`actor_${index}`, version));
};
await engine.resolveBatchCompact(batch());
const session = new Session();
session.connect();
await session.post("Profiler.enable");
if (INTERVAL_US > 0) await session.post("Profiler.setSamplingInterval", { interval: INTERVAL_US });
for (let run = 0; run < RUNS; run++) {
  const actors = batch();
  gc();
  let elapsed = 0;
  const batchLine = await sampled(session, async () => {
    const started = performance.now();
    await engine.resolveBatchCompact(actors);
    elapsed = performance.now() - started;
  });
  console.log(`batch ${elapsed.toFixed(0)} ms: ${batchLine}`);
  gc();
  const idleLine = await sampled(session, async () => {
    const pinger = messagesEvery(elapsed / CHUNKS);
    await new Promise((resolve) => setTimeout(resolve, elapsed));
    await pinger.terminate();
  });
  console.log(`idle, woken by messages, ${elapsed.toFixed(0)} ms: ${idleLine}`);
}
session.disconnect();
await engine.close();
