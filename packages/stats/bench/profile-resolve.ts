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
// sets the measured resolves (after 100,000 warm-up).
const mode = (process.env.MODE ??
  (process.env.PREPARED === "1" ? "prepared-constant" : "plain-fresh")) as WorkloadMode;
const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems(mode),
});
const count = Number(process.env.COUNT ?? 600_000);
let version = 0;
for (let i = 0; i < 100_000; i++)
  await engine.resolve(workloadActor(`actor_${i % 1024}`, version++));
const cpu = process.cpuUsage();
for (let i = 0; i < count; i++) await engine.resolve(workloadActor(`actor_${i % 1024}`, version++));
const used = process.cpuUsage(cpu);
const perCpuSecond = Math.round(count / ((used.user + used.system) / 1e6));
console.log(`${mode}: ${perCpuSecond} resolves per CPU-second`);
