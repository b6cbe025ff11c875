// A batch worker's scheduling priority: below the calling thread's, so that the event loop has a
// core first when a worker competes with it for one.
import { getPriority, setPriority } from "node:os";

/**
 * Lowers the calling thread's priority (a batch worker's) by `nice` steps. On Linux nice is per thread, so the
 * calling thread keeps its own; elsewhere `setPriority(0, …)` would change the whole process's,
 * so nothing is done.
 */
export function lowerThreadPriority(nice: number, platform = process.platform): boolean {
  if (nice === 0 || platform !== "linux") return false;
  try {
    setPriority(0, Math.min(19, getPriority(0) + nice));
    return true;
  } catch {
    // A sandbox that refuses it: the worker runs at the calling thread's priority, as with 0.
    return false;
  }
}
