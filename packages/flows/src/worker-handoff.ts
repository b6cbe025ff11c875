import type { FlowsContext } from "./engine-context.js";
import { deriveItems } from "./queue-items.js";
import type { RunRecord } from "./run-state.js";
import type { CommittedRuns } from "./run-store.js";

/**
 * Hand-over of new runs to this process's worker: the commit that creates runs (with a paired
 * queue) stores each run's first item already leased to this process, for as many runs as the
 * worker has free slots, and the worker starts on them with the run records it just wrote. At
 * one workflow at a time this saves the claim round trip and the read of the run after it.
 */
export interface Handoff {
  /** The items to lease, by id, with the run each starts. */
  readonly runOf: ReadonlyMap<string, RunRecord>;
}

/**
 * Reserves worker slots for `runs` and picks the item to lease for each: its first item due at
 * `now`. Undefined when the worker has no free slot (or is not running here).
 */
export function planHandoff(
  ctx: Pick<FlowsContext, "worker">,
  runs: readonly RunRecord[],
  now: number,
): Handoff | undefined {
  const runOf = new Map<string, RunRecord>();
  for (const run of runs) {
    const due = deriveItems(run, now).find((item) => (item.availableAt ?? now) <= now);
    if (due?.id !== undefined) runOf.set(due.id, run);
  }
  if (runOf.size === 0) return undefined;
  const reserved = ctx.worker.reserve(runOf.size);
  if (reserved === 0) return undefined;
  // Only as many runs as there are slots; the rest wait in the queue for any claimer.
  return { runOf: new Map([...runOf].slice(0, reserved)) };
}

/** Gives the worker the leases `committed` came back with; frees the slots of the others. */
export function handOver(
  ctx: Pick<FlowsContext, "worker">,
  handoff: Handoff,
  committed: CommittedRuns,
): void {
  const leases = committed.leases ?? [];
  for (const lease of leases) {
    const run = handoff.runOf.get(lease.id);
    ctx.worker.adopt(
      lease,
      run && committed.version !== undefined
        ? { run, version: committed.version, status: run.status }
        : undefined,
    );
  }
  ctx.worker.unreserve(handoff.runOf.size - leases.length);
}
