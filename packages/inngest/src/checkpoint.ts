import { type Clock, createIdGenerator, jsonCodec, type Store } from "@troupe/core";

/**
 * Steps an SDK reported through `POST /v1/checkpoint/:runId/async` while a call request is in
 * flight. They are held until that call's response arrives, then applied with it, so the engine
 * still sees one response per call.
 */
export interface CheckpointInbox {
  /** Adds reported steps of a run. */
  put(runId: string, steps: readonly unknown[]): Promise<void>;
  /** Removes and returns the steps held for a run, oldest first. */
  take(runId: string): Promise<unknown[]>;
  /** Drops what is held in memory (a shared inbox keeps its entries). */
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
    async put(runId, steps) {
      sweep();
      const entry = held.get(runId) ?? { at: clock.now(), steps: [] };
      entry.steps.push(...steps);
      held.set(runId, entry);
    },
    async take(runId) {
      const entry = held.get(runId);
      held.delete(runId);
      return entry?.steps ?? [];
    },
    clear() {
      held.clear();
    },
  };
}

/**
 * Creates an inbox in the Store, for several Troupe processes behind one address: a checkpoint
 * may reach any of them and is still applied by the one making the call. Costs a commit per
 * checkpoint and a read per call.
 */
export function createStoreCheckpointInbox(
  store: Store,
  prefix: string,
  clock: Clock,
): CheckpointInbox {
  const newId = createIdGenerator(clock);
  const runPrefix = (runId: string) => `${prefix}cp/${encodeURIComponent(runId)}/`;
  return {
    async put(runId, steps) {
      await store.commit([
        { type: "set", key: `${runPrefix(runId)}${newId()}`, value: jsonCodec.encode(steps) },
      ]);
    },
    async take(runId) {
      const entries = await store.list({ prefix: runPrefix(runId) });
      if (entries.length === 0) return [];
      await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
      return entries.flatMap((entry) => jsonCodec.decode(entry.value) as unknown[]);
    },
    clear() {},
  };
}
