// For tests (not exported by the package): an output written through a writer, as an emitting
// subsystem writes it.
import type { StatsWriter, SubsystemOutput } from "./types.js";

/** Writes `output` through `writer`, in its order (what an emitting subsystem would do). */
export function replay(output: SubsystemOutput, writer: StatsWriter): void {
  for (const item of output.primary) {
    writer.primary(item.dimension, item.bucket, item.value, item.priority);
  }
  for (const item of output.derived) {
    writer.derived(item.dimension, item.bucket, item.value, item.priority);
  }
  for (const cap of output.caps) {
    writer.cap(cap.dimension, cap.mode, cap.kind, cap.value, cap.scope, cap.realm, cap.priority);
  }
  for (const [key, pack] of Object.entries(output.context ?? {})) writer.context(key, pack);
}
