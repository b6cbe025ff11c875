import { StatFold } from "../src/fold.js";
import { compileRegistry, type Subsystem } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

// A profiling harness for the fold alone (not part of `pnpm bench`): the standard workload's
// emitting subsystems written into a `StatFold` and finished, with no aggregator, cache, promise
// or snapshot object around it, so the engine's own cost shows without the rest:
//   node --import tsx --conditions=source [--cpu-prof] bench/profile-fold.ts
// COUNT sets the measured folds (after 300,000 warm-up); FINISH=0 leaves out `finish`.
const subsystems = workloadSubsystems("emit-fresh") as Required<Subsystem>[];
const fold = new StatFold(compileRegistry(workloadRegistry()));
const actors = Array.from({ length: 1024 }, (_, index) => workloadActor(`actor_${index}`, index));
const finish = process.env.FINISH !== "0";
const count = Number(process.env.COUNT ?? 1_000_000);
const input = { primary: {} };
let sink = 0;

function run(folds: number, first: number): void {
  for (let iteration = first; iteration < first + folds; iteration++) {
    // A fresh version each fold, so every value changes (as in the uncached bench rows).
    const actor = { ...(actors[iteration & 1023] as ReturnType<typeof workloadActor>) };
    (actor as { version: number }).version = iteration;
    fold.begin();
    for (let i = 0; i < subsystems.length; i++) {
      const subsystem = subsystems[i] as Required<Subsystem>;
      subsystem.emit(actor, fold.beginEmit(subsystem.id), input);
      fold.endEmit();
    }
    if (finish) sink += fold.finish().primary.stat_00 as number;
  }
}

run(300_000, 0);
const cpu = process.cpuUsage();
run(count, 300_000);
const used = process.cpuUsage(cpu);
const perCpuSecond = Math.round(count / ((used.user + used.system) / 1e6));
console.log(`${finish ? "emit + finish" : "emit only"}: ${perCpuSecond} folds per CPU-second`);
if (sink < 0) console.log(sink);
