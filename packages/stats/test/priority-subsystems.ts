// The subsystems of the worker priority test: one that reports the nice value of the thread it
// runs on, as a primary value, so a batch shows where and at which priority it was resolved.
import { getPriority } from "node:os";
import type { CombinerRegistry, Subsystem } from "../src/index.js";

export const priorityCombiner: CombinerRegistry = {
  dimensions: { nice: { use_pipeline: true, clamp_default: { min: -20, max: 19 } } },
};

export const subsystems: Subsystem[] = [
  {
    id: "thread",
    emit(_actor, writer) {
      writer.primary("nice", "FLAT", getPriority(0));
    },
  },
];
