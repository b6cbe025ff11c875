import { createStatsAggregator } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

// A profiling harness for the uncached resolve of the standard workload (not part of `pnpm bench`):
//   node --import tsx --conditions=source --cpu-prof bench/profile-resolve.ts
// PREPARED=1 uses prepareOutput outputs; COUNT sets the measured resolves (after 100,000 warm-up).
const prepared = process.env.PREPARED === "1";
const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems(prepared),
});
const count = Number(process.env.COUNT ?? 600_000);
let version = 0;
for (let i = 0; i < 100_000; i++)
  await engine.resolve(workloadActor(`actor_${i % 1024}`, version++));
const cpu = process.cpuUsage();
for (let i = 0; i < count; i++) await engine.resolve(workloadActor(`actor_${i % 1024}`, version++));
const used = process.cpuUsage(cpu);
const perCpuSecond = Math.round(count / ((used.user + used.system) / 1e6));
console.log(`${prepared ? "prepared" : "plain"}: ${perCpuSecond} resolves per CPU-second`);
