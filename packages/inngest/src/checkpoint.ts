/**
 * Steps an SDK reported through `POST /v1/checkpoint/:runId/async` while a call request is in
 * flight. They are held until that call's response arrives, then applied with it, so the engine
 * still sees one response per call.
 */
export interface CheckpointInbox {
  /** Adds reported steps of a run. */
  put(runId: string, steps: readonly unknown[]): void;
  /** Removes and returns the steps held for a run. */
  take(runId: string): unknown[];
  /** Drops everything. */
  clear(): void;
}

/** Creates an in-memory inbox (call requests and checkpoints of a run reach the same process). */
export function createCheckpointInbox(): CheckpointInbox {
  const held = new Map<string, unknown[]>();
  return {
    put(runId, steps) {
      const list = held.get(runId) ?? [];
      list.push(...steps);
      held.set(runId, list);
    },
    take(runId) {
      const list = held.get(runId) ?? [];
      held.delete(runId);
      return list;
    },
    clear() {
      held.clear();
    },
  };
}
