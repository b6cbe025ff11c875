import { createJsonCodec, type Store, StoreConflictError } from "@troupe/core";
import type { IdempotencyState } from "./idempotency.js";
import type { RateLimitState } from "./rate-limit.js";
import type { ThrottleState } from "./throttle.js";

const codec = createJsonCodec<unknown>();

/** What the cleaner needs. */
export interface StateCleanerDeps {
  readonly store: Store;
  readonly prefix: string;
  readonly now: () => number;
}

/**
 * Deletes flow-control records that no longer mean anything, a page per call, resuming where the
 * last call stopped (so a million keys cost a million small deletes spread over many sweeps, never
 * one long scan): rate-limit keys whose theoretical arrival time has passed (reading one is the
 * same as reading nothing), throttle keys likewise, and idempotency keys past their 24 h. Each
 * delete is guarded by the version read, so a key an event refreshed meanwhile stays. Resolves to
 * the records deleted per kind letter (`r`, `t`, `i`).
 */
export function createStateCleaner(deps: StateCleanerDeps, pageSize = 500) {
  const cursors = new Map<string, string | undefined>();
  const expired: Record<string, (value: unknown, now: number) => boolean> = {
    r: (value, now) => (value as RateLimitState).tat <= now,
    t: (value, now) => (value as ThrottleState).tat <= now,
    i: (value, now) => (value as IdempotencyState).exp <= now,
  };
  return async function clean(): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    for (const [kind, isExpired] of Object.entries(expired)) {
      const base = `${deps.prefix}fc/${kind}/`;
      const cursor = cursors.get(kind);
      const page = await deps.store.list({
        prefix: base,
        limit: pageSize,
        ...(cursor === undefined ? {} : { start: `${cursor}\u0000` }),
      });
      cursors.set(kind, page.length < pageSize ? undefined : page[page.length - 1]?.key);
      const now = deps.now();
      const stale = page.filter((entry) => isExpired(codec.decode(entry.value), now));
      if (stale.length === 0) continue;
      try {
        await deps.store.commit(
          stale.map(
            (entry) => ({ type: "delete", key: entry.key, expect: entry.version }) as const,
          ),
        );
        deleted[kind] = stale.length;
      } catch (error) {
        // Some key changed since the read: the next pass of this page sorts it out.
        if (!StoreConflictError.isInstance(error)) throw error;
        cursors.set(kind, cursor);
      }
    }
    return deleted;
  };
}
