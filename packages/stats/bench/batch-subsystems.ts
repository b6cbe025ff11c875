// The subsystems batch workers import in the bench (`workers.module`): the emitting real-use
// workload, the same list the calling thread registers.
import { workloadSubsystems } from "./workload.js";

export const subsystems = workloadSubsystems("emit-fresh");
