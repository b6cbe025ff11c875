import { createStatsAggregator } from "../src/index.js";
import {
  type WorkloadMode,
  workloadActor,
  workloadRegistry,
  workloadSubsystems,
} from "./workload.js";

// A profiling harness for the uncached resolve of the standard workload (not part of `pnpm bench`):
//   MODE=plain-fresh node --import tsx --conditions=source --cpu-prof bench/profile-resolve.ts
// MODE is a WorkloadMode (default plain-fresh; PREPARED=1 still means prepared-constant); COUNT
// sets the measured resolves (after 100,000 warm-up); SYNC=1 resolves through resolveSync.
const mode = (process.env.MODE ??
  (process.env.PREPARED === "1" ? "prepared-constant" : "plain-fresh")) as WorkloadMode;
const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems(mode),
});
const count = Number(process.env.COUNT ?? 600_000);
// SYNC=1 resolves through resolveSync (no promise).
const sync = process.env.SYNC === "1";
let version = 0;
const actors = Array.from({ length: 1024 }, (_, index) => `actor_${index}`);
const run = async (resolves: number) => {
  for (let i = 0; i < resolves; i++) {
    const actor = workloadActor(actors[i % 1024] as string, version++);
    if (sync) engine.resolveSync(actor);
    else await engine.resolve(actor);
  }
};
await run(100_000);
const cpu = process.cpuUsage();
await run(count);
const used = process.cpuUsage(cpu);
const perCpuSecond = Math.round(count / ((used.user + used.system) / 1e6));
console.log(`${mode}: ${perCpuSecond} resolves per CPU-second`);
