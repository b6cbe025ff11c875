// The subsystems of the thread-failure tests: `level` writes the actor's level, and ends the thread
// it runs on (`process.exit` in a worker thread stops that thread) for an actor whose data says so.
import type { CombinerRegistry, Subsystem } from "../src/index.js";

export const exitCombiner: CombinerRegistry = {
  dimensions: { level: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } } },
};

export const subsystems: Subsystem[] = [
  {
    id: "level",
    emit(actor, writer) {
      if (actor.data.exit === true) process.exit(7);
      writer.primary("level", "FLAT", Number(actor.data.level));
    },
  },
];
