import type { Clock } from "@troupe/core";

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
  /** Runs with steps held. */
  size(): number;
  /** Drops everything. */
  clear(): void;
}

/**
 * Creates an in-memory inbox. A checkpoint that reached another process than the one making
 * the call is never taken here; entries older than `maxAgeMs` are dropped so such strays do not
 * pile up (the steps then run again, which at-least-once steps allow).
 */
export function createCheckpointInbox(clock: Clock, maxAgeMs = 15 * 60_000): CheckpointInbox {
  const held = new Map<string, { at: number; steps: unknown[] }>();
  let lastSweep = clock.now();
  const sweep = () => {
    const now = clock.now();
    if (now - lastSweep < maxAgeMs / 4) return;
    lastSweep = now;
    for (const [runId, entry] of held) if (now - entry.at > maxAgeMs) held.delete(runId);
  };
  return {
    put(runId, steps) {
      sweep();
      const entry = held.get(runId) ?? { at: clock.now(), steps: [] };
      entry.steps.push(...steps);
      held.set(runId, entry);
    },
    take(runId) {
      const entry = held.get(runId);
      held.delete(runId);
      return entry?.steps ?? [];
    },
    size: () => held.size,
    clear() {
      held.clear();
    },
  };
}
