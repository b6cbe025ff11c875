import { StatFold } from "../src/engine.js";
import { compileRegistry } from "../src/index.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

const subsystems = workloadSubsystems("emit-fresh") as Required<
  ReturnType<typeof workloadSubsystems>[0]
>[];
const fold = new StatFold(compileRegistry(workloadRegistry()));
const actors = Array.from({ length: 1024 }, (_, i) => workloadActor(`actor_${i}`, i));
const FINISH = process.env.NOFINISH !== "1";
let sink = 0;
function run(count: number, start: number) {
  for (let it = start; it < start + count; it++) {
    const actor = actors[it & 1023] as ReturnType<typeof workloadActor>;
    (actor as { version: number }).version = it;
    fold.begin();
    for (let i = 0; i < subsystems.length; i++) {
      const s = subsystems[i] as (typeof subsystems)[0];
      const w = fold.beginEmit(s.id);
      s.emit(actor, w, { primary: {} });
      fold.endEmit();
    }
    if (FINISH) sink += fold.finish().primary.stat_00 as number;
  }
}
run(300_000, 0);
const cpu = process.cpuUsage();
run(1_000_000, 300_000);
const used = process.cpuUsage(cpu);
console.log(
  `fold ${FINISH ? "emit+finish" : "emit only"}: ${Math.round(1e6 / ((used.user + used.system) / 1e6))}/CPU-s`,
  sink > 0,
);
