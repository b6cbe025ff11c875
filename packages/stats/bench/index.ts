import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { measureThroughput, printTable } from "@troupe/testkit";
import {
  aggregateOutputs,
  type CapContribution,
  type Contribution,
  compileRegistry,
  createStatsAggregator,
  type StatsAggregator,
  type StatsWriter,
  type Subsystem,
  type SubsystemOutput,
} from "../src/index.js";
import { batchDelayRows } from "./batch-delay.js";
import {
  dimensionNames,
  SUBSYSTEM_COUNT,
  type WorkloadMode,
  workloadActor,
  workloadOutput,
  workloadRegistry,
  workloadSubsystems,
} from "./workload.js";

// `pnpm bench` in packages/stats. Every number is from one process on one core.
const DURATION_MS = Number(process.env.STATS_BENCH_MS ?? 3000);
// Warm-up before each tight loop: the first ~600 ms of a loop still run partly unoptimised code
// (measured in 300 ms windows: 51k, 85k, then ~150k plain resolves/s), which a 200 ms warm-up
// left inside the measurement.
const WARMUP_MS = Number(process.env.STATS_BENCH_WARMUP_MS ?? 1000);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function aggregator(maxEntries = 10_000, mode: WorkloadMode = "plain-constant"): StatsAggregator {
  return createStatsAggregator({
    combiner: workloadRegistry(),
    subsystems: workloadSubsystems(mode),
    cache: { maxEntries },
  });
}

interface Rate {
  /** Operations per wall-clock second. */
  readonly wall: number;
  /** Operations per second of this process's CPU time: the one-core number, robust to a busy machine. */
  readonly cpu: number;
}

/** Ops/s of a tight loop (no per-operation timing), for operations far below a microsecond. */
async function tightLoop(run: (iteration: number) => unknown, durationMs: number): Promise<Rate> {
  let iteration = 0;
  const warm = performance.now() + WARMUP_MS;
  while (performance.now() < warm) for (let i = 0; i < 1000; i++) await run(iteration++);
  const cpu = process.cpuUsage();
  const start = performance.now();
  let operations = 0;
  let now = start;
  while (now - start < durationMs) {
    for (let i = 0; i < 1000; i++) await run(iteration++);
    operations += 1000;
    now = performance.now();
  }
  return rate(operations, now - start, cpu);
}

function rate(operations: number, wallMs: number, cpuStart: NodeJS.CpuUsage): Rate {
  const used = process.cpuUsage(cpuStart);
  return {
    wall: (operations / wallMs) * 1000,
    cpu: operations / ((used.user + used.system) / 1e6),
  };
}

function tightLoopSync(run: (iteration: number) => unknown, durationMs: number): Rate {
  let iteration = 0;
  let sink = 0;
  const warm = performance.now() + WARMUP_MS;
  while (performance.now() < warm) for (let i = 0; i < 1000; i++) sink += run(iteration++) ? 1 : 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let operations = 0;
  let now = start;
  while (now - start < durationMs) {
    for (let i = 0; i < 1000; i++) sink += run(iteration++) ? 1 : 0;
    operations += 1000;
    now = performance.now();
  }
  if (sink < 0) console.log(sink);
  return rate(operations, now - start, cpu);
}

const rows: Record<string, string | number>[] = [];
const round = (value: number) => Math.round(value);
const row = (measurement: string, measured: Rate, goal: string) => ({
  measurement,
  "ops/s (CPU time)": round(measured.cpu),
  "ops/s (wall)": round(measured.wall),
  "p50 µs": "",
  "p99 µs": "",
  goal,
});

// 1. Uncached resolve: a fresh actor version each time, so L1 always misses and every resolve
// runs the 12 subsystems and folds 24 dimensions. Plain outputs are validated (R0) on every
// resolve; prepared outputs (prepareOutput) were validated once. The rows differ in how the
// subsystems produce their outputs (see WorkloadMode in workload.ts): the same objects every
// resolve (the engine's best case), or new values every resolve (what a game does).
//
// Each row runs in a process of its own, like a game server with one kind of subsystems: run one
// after another in one process, later rows measured up to ~30 % lower (JIT feedback and heap
// state left by the earlier rows; prepared-rotating 268k alone, 192k–202k after a plain row).
interface UncachedRow {
  readonly key: string;
  readonly mode: WorkloadMode;
  /** Through `resolveSync` (no promise) instead of `resolve`. */
  readonly sync: boolean;
  readonly label: string;
}

const ROWS: readonly UncachedRow[] = [
  {
    key: "emit-fresh",
    mode: "emit-fresh",
    sync: false,
    label: "emitting subsystems, values new every resolve (real use, no output objects)",
  },
  {
    key: "emit-fresh-sync",
    mode: "emit-fresh",
    sync: true,
    label: "the same through resolveSync (a game loop's call: no promise)",
  },
  {
    key: "plain-fresh",
    mode: "plain-fresh",
    sync: false,
    label: "plain outputs, new objects and values every resolve (real use)",
  },
  {
    key: "mixed",
    mode: "mixed",
    sync: false,
    label: "8 prepared rotating + 4 plain new every resolve (real use, prepared where static)",
  },
  {
    key: "prepared-rotating",
    mode: "prepared-rotating",
    sync: false,
    label: "prepared outputs, 64 per subsystem, rotating (values change)",
  },
  {
    key: "plain-constant",
    mode: "plain-constant",
    sync: false,
    label: "plain outputs, the same objects every resolve",
  },
  {
    key: "prepared-constant",
    mode: "prepared-constant",
    sync: false,
    label: "prepared outputs, the same ones every resolve (best case)",
  },
];

async function uncachedRow(spec: UncachedRow): Promise<Record<string, string | number>> {
  const engine = aggregator(10_000, spec.mode);
  const actors = Array.from({ length: 1024 }, (_, index) => `actor_${index}`);
  const opsPerSec = spec.sync
    ? tightLoopSync(
        (iteration) =>
          engine.resolveSync(workloadActor(actors[iteration % 1024] as string, iteration)),
        DURATION_MS,
      )
    : await tightLoop(
        (iteration) => engine.resolve(workloadActor(actors[iteration % 1024] as string, iteration)),
        DURATION_MS,
      );
  const latency = await measureThroughput(
    "resolve",
    async (iteration) => {
      const actor = workloadActor(actors[iteration % 1024] as string, 1e9 + iteration);
      if (spec.sync) engine.resolveSync(actor);
      else await engine.resolve(actor);
    },
    { durationMs: DURATION_MS, warmupMs: 200 },
  );
  if (engine.cacheStats().hits !== 0) throw new Error("the uncached bench hit the cache");
  return {
    measurement: `uncached resolve, ${spec.label}`,
    "ops/s (CPU time)": round(opsPerSec.cpu),
    "ops/s (wall)": round(opsPerSec.wall),
    "p50 µs": (latency.p50Us ?? 0).toFixed(2),
    "p99 µs": (latency.p99Us ?? 0).toFixed(2),
    goal: "≥ 300,000 ops/s, p99 ≤ 50 µs",
  };
}

// The floors, each in a process of its own too (run after others, they read lower).
const FLOORS = {
  "floor-emit": [
    "emit-fresh",
    "floor of the emitting row: its subsystems writing into a writer that only stores, a same-shape snapshot kept per actor, no engine",
    false,
  ],
  "floor-plain": [
    "plain-fresh",
    "floor of the plain real-use row: its subsystems and a same-shape snapshot kept per actor, no engine",
    false,
  ],
  "floor-read": [
    "plain-fresh",
    "the plain floor reading every field R0 checks (no check, no fold): the least any validating engine does",
    true,
  ],
} as const;

let seen = 0;
const onlyRow = process.env.STATS_BENCH_ROW;
if (onlyRow !== undefined) {
  // A child of the run below: one row, printed as JSON.
  const floor = FLOORS[onlyRow as keyof typeof FLOORS];
  if (floor !== undefined) {
    console.log(JSON.stringify(await floorRow(floor[0], floor[1], floor[2])));
    process.exit(0);
  }
  const spec = ROWS.find((candidate) => candidate.key === onlyRow);
  if (spec === undefined) throw new Error(`no bench row ${onlyRow}`);
  console.log(JSON.stringify(await uncachedRow(spec)));
  process.exit(0);
}
for (const key of [...ROWS.map((spec) => spec.key), ...Object.keys(FLOORS)]) {
  const output = execFileSync(process.execPath, [...process.execArgv, process.argv[1] as string], {
    env: { ...process.env, STATS_BENCH_ROW: key },
    encoding: "utf8",
  });
  rows.push(
    JSON.parse(output.trim().split("\n").at(-1) as string) as Record<string, string | number>,
  );
}

// 1b. The floors of the real-use rows: the same subsystems producing the same contributions (plain
// outputs built every resolve, or emitted into a writer that only stores the values), and a
// snapshot of the same shape (24 + 24 fresh values, 24 bounds of which 8 new) kept per actor in
// a Map, with no validation and no fold. No engine can resolve faster than this on this workload.
async function floorRow(mode: "plain-fresh" | "emit-fresh", label: string, read: boolean) {
  const subsystems = workloadSubsystems(mode) as Required<Subsystem>[];
  const literal = (): ((values: readonly unknown[]) => Record<string, unknown>) =>
    new Function(
      "v",
      `return { ${dimensionNames.map((name, index) => `${name}: v[${index}]`).join(", ")} };`,
    ) as (values: readonly unknown[]) => Record<string, unknown>;
  const primaryOf = literal();
  const derivedOf = literal();
  const boundsOf = literal();
  const kept = new Map<string, unknown>();
  const values = new Array<number>(dimensionNames.length).fill(0.5);
  const shared = Object.freeze({ min: 0, max: 1e6 });
  const bounds = new Array<unknown>(dimensionNames.length).fill(shared);
  const outputs = new Array<unknown>(subsystems.length);
  const written = new Float64Array(256);
  let count = 0;
  const writer: StatsWriter = {
    primary: (_dimension, _bucket, value) => {
      written[count++ & 255] = value;
    },
    derived: (_dimension, _bucket, value) => {
      written[count++ & 255] = value;
    },
    cap: (_dimension, _mode, _kind, value) => {
      written[count++ & 255] = value;
    },
    context: () => {},
  };
  const input = { primary: {} };
  const actors = Array.from({ length: 1024 }, (_, index) => `actor_${index}`);
  const opsPerSec = await tightLoop((iteration) => {
    const actor = workloadActor(actors[iteration % 1024] as string, iteration);
    if (mode === "emit-fresh") {
      for (let i = 0; i < subsystems.length; i++) {
        (subsystems[i] as Required<Subsystem>).emit(actor, writer, input);
      }
    } else {
      for (let i = 0; i < subsystems.length; i++) {
        outputs[i] = (subsystems[i] as Required<Subsystem>).contribute(actor, input);
      }
      if (read) seen += readEveryField(outputs as SubsystemOutput[]);
    }
    const shift = (iteration % 64) / 64 + 0.25;
    for (let i = 0; i < values.length; i++) values[i] = i + shift;
    for (let i = 0; i < 8; i++) bounds[3 * i] = { min: shift, max: 1000 + i + shift };
    const snapshot = {
      actor_id: actor.id,
      version: actor.version,
      epoch: 1,
      created_at: Date.now(),
      primary: primaryOf(values),
      derived: derivedOf(values),
      caps_used: boundsOf(bounds),
    };
    kept.set(actor.id, snapshot);
    return Promise.resolve(snapshot);
  }, DURATION_MS);
  if (seen < 0) console.log(seen);
  return row(label, opsPerSec, "");
}

/**
 * Reads every field rule R0 must check of every contribution and cap, with no check and no fold:
 * what any engine that validates plain outputs does at the least.
 */
function readEveryField(outputs: readonly SubsystemOutput[]): number {
  let sum = 0;
  for (let o = 0; o < outputs.length; o++) {
    const output = outputs[o] as SubsystemOutput;
    if (output.meta.system === "") sum++;
    sum += readContributions(output.primary) + readContributions(output.derived);
    const caps = output.caps;
    for (let i = 0; i < caps.length; i++) {
      const cap = caps[i] as CapContribution;
      sum += cap.value + (cap.priority ?? 0);
      if (cap.dimension === cap.system || (cap.mode as string) === (cap.kind as string)) sum++;
      if (cap.scope === cap.realm) sum++;
      if (cap.tags !== undefined) sum += cap.tags.length;
    }
  }
  return sum;
}

function readContributions(list: readonly Contribution[]): number {
  let sum = 0;
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Contribution;
    sum += item.value + (item.priority ?? 0);
    if (item.dimension === item.system || (item.bucket as string) === "") sum++;
  }
  return sum;
}

// 2. The fold alone (no aggregator, no promise, no cache): what the engine itself costs.
{
  const registry = compileRegistry(workloadRegistry());
  const outputs = Array.from({ length: SUBSYSTEM_COUNT }, (_, index) => workloadOutput(index));
  const opsPerSec = tightLoopSync(() => aggregateOutputs(registry, outputs), DURATION_MS);
  rows.push(row("aggregateOutputs alone (the CLI path, plain outputs)", opsPerSec, ""));
}

// 3. Cached reads: getCachedSnapshot of 1,000 resolved actors, round robin.
{
  const engine = aggregator();
  for (let index = 0; index < 1000; index++)
    await engine.resolve(workloadActor(`actor_${index}`, 1));
  const ids = Array.from({ length: 1000 }, (_, index) => `actor_${index}`);
  const opsPerSec = tightLoopSync(
    (iteration) => engine.getCachedSnapshot(ids[iteration % 1000] as string, 1),
    DURATION_MS,
  );
  rows.push(row("cached getCachedSnapshot (L1 hit)", opsPerSec, "≥ 5,000,000 ops/s"));
  const resolveHit = await tightLoop(
    (iteration) => engine.resolve(workloadActor(ids[iteration % 1000] as string, 1)),
    DURATION_MS,
  );
  rows.push(row("cached resolve (L1 hit through resolve)", resolveHit, ""));
}

// 4. resolveBatch of 1,000 fresh actors.
{
  const engine = aggregator();
  let generation = 0;
  const cpuStart = process.cpuUsage();
  const batch = await measureThroughput(
    "resolveBatch",
    async () => {
      generation++;
      const actors = Array.from({ length: 1000 }, (_, index) =>
        workloadActor(`actor_${index}`, generation),
      );
      await engine.resolveBatch(actors);
    },
    { durationMs: DURATION_MS, warmupMs: 300 },
  );
  const used = process.cpuUsage(cpuStart);
  // Warm-up batches ran too: count every batch made, against all the CPU time used.
  const actorsPerCpuSecond = (generation * 1000) / ((used.user + used.system) / 1e6);
  rows.push({
    measurement: "resolveBatch of 1,000 actors (uncached)",
    "ops/s (CPU time)": `${round(actorsPerCpuSecond).toLocaleString("en-US")} actors/s`,
    "ops/s (wall)": `${round(batch.opsPerSec * 1000).toLocaleString("en-US")} actors/s`,
    "p50 µs": `${((batch.p50Us ?? 0) / 1000).toFixed(2)} ms/batch`,
    "p99 µs": `${((batch.p99Us ?? 0) / 1000).toFixed(2)} ms/batch`,
    goal: "",
  });
}

// 4b. resolveBatch of 100,000 actors on the calling thread and on worker threads, with the
// calling thread's event-loop delay while it runs (bench/batch-delay.ts).
rows.push(...(await batchDelayRows()));

// 5. Memory: heap growth per cached snapshot, 20,000 actors in L1.
{
  const count = 20_000;
  const engine = aggregator(count);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let index = 0; index < count; index++)
    await engine.resolve(workloadActor(`actor_${index}`, 1));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (engine.cacheStats().entries !== count) throw new Error("not every snapshot stayed cached");
  rows.push({
    measurement: "bytes per cached snapshot (24 primary, 24 derived, 24 bounds)",
    "ops/s (CPU time)": "",
    "ops/s (wall)": `${round((after - before) / count).toLocaleString("en-US")} bytes`,
    "p50 µs": "",
    "p99 µs": "",
    goal: "",
  });
}

printTable(`@troupe/stats, Node ${process.version}, ${DURATION_MS} ms per measurement`, rows);
