// Many 100,000-actor `resolveBatchCompact` batches on one aggregator, one after another, with a
// collection before each, and per batch the 1 ms timer's loop delay and every thread's CPU time
// (Linux: /proc task entries, 10 ms ticks): the calling thread, the batch workers, and the rest —
// V8's helper threads, which compile optimized code and run the collector's parallel work.
// A full collection before each batch is the hard case for the batch path's optimized code: what
// it was specialised to must outlive the batch, or it is compiled again during the next one, on
// the helpers (run it with `node --trace-opt` to see the compiles).
// `npx tsx --conditions=source bench/batch-series.ts` (`BATCH_SERIES_RUNS`, default 12 batches;
// `BATCH_SERIES_COLLECT`: `full` (default), `minor` (two scavenges: the actors promoted, nothing
// else collected), or `none`).
import { readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createStatsAggregator } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;

const ACTORS = 100_000;
const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const RUNS = Number(process.env.BATCH_SERIES_RUNS ?? 12);
const COLLECT = process.env.BATCH_SERIES_COLLECT ?? "full";
if (!["full", "minor", "none"].includes(COLLECT)) {
  throw new Error(`BATCH_SERIES_COLLECT: expected full, minor or none, got ${COLLECT}`);
}

/** CPU ms per thread of this process (utime + stime, 10 ms ticks). */
function threadCpuMs(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpu.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // the thread ended
    }
  }
  return cpu;
}

const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems("emit-fresh"),
  workers: { module: MODULE },
});
let version = 0;
const rows: Record<string, string | number>[] = [];
for (let run = 0; run < RUNS; run++) {
  version++;
  const actors = Array.from({ length: ACTORS }, (_, i) => workloadActor(`actor_${i}`, version));
  if (COLLECT === "full") gc();
  else if (COLLECT === "minor") {
    gc({ type: "minor" });
    gc({ type: "minor" });
  }
  const before = threadCpuMs();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  await engine.resolveBatchCompact(actors);
  const elapsed = performance.now() - started;
  delay.disable();
  const after = threadCpuMs();
  // The workers: threads busy for most of the batch; the rest are the helpers (and Node's own).
  let workers = 0;
  let others = 0;
  for (const [tid, ms] of after) {
    if (tid === process.pid) continue;
    const spent = ms - (before.get(tid) ?? 0);
    if (spent > elapsed / 2) workers += spent;
    else others += spent;
  }
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);
  rows.push({
    batch: run + 1,
    "actors/s": Math.round((ACTORS / elapsed) * 1000),
    "loop delay p99 ms": ms(delay.percentile(99)),
    "max ms": ms(delay.max),
    "calling thread CPU ms": (after.get(process.pid) ?? 0) - (before.get(process.pid) ?? 0),
    "workers CPU ms": workers,
    "other threads CPU ms": others,
  });
}
await engine.close();
console.log(`collection before each batch: ${COLLECT}`);
console.table(rows);
