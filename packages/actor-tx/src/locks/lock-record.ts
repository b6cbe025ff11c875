/**
 * A named lock as pure transitions on its stored record. The record keeps the last fencing token
 * it issued, so tokens grow with every grant for as long as the lock exists, and the holders with
 * their leases: a holder whose lease ran out no longer counts, so a dead holder releases the lock
 * at its lease end without anyone deleting it.
 */

/** Exclusive (writer) or shared (reader). */
export type LockMode = "exclusive" | "shared";

/** One holder of a lock. */
export interface LockHolder {
  readonly owner: string;
  readonly mode: LockMode;
  /** The fencing token of this grant. */
  readonly token: number;
  readonly leaseUntil: number;
  readonly node: string;
}

/** The stored record of a lock. */
export interface LockRecord {
  /** The last token issued (0: never granted). */
  readonly token: number;
  readonly holders: readonly LockHolder[];
}

/** A lock that was never taken. */
export const FREE: LockRecord = { token: 0, holders: [] };

/** The holders whose lease has not run out. */
export function liveHolders(record: LockRecord, now: number): readonly LockHolder[] {
  return record.holders.filter((holder) => holder.leaseUntil > now);
}

/** The outcome of a request. */
export type GrantResult =
  | { readonly granted: true; readonly record: LockRecord; readonly holder: LockHolder }
  | { readonly granted: false; readonly blockers: readonly string[] };

/**
 * Grants `mode` to `owner` when the live holders allow it: exclusive needs no other holder,
 * shared needs no other exclusive one. An owner asking again for what it holds gets a new token
 * and a fresh lease (its old grant is replaced).
 */
export function requestLock(
  record: LockRecord,
  request: { owner: string; mode: LockMode; node: string },
  now: number,
  leaseMs: number,
): GrantResult {
  const others = liveHolders(record, now).filter((holder) => holder.owner !== request.owner);
  const blockers = others.filter(
    (holder) => request.mode === "exclusive" || holder.mode === "exclusive",
  );
  if (blockers.length > 0) return { granted: false, blockers: blockers.map((h) => h.owner) };
  const holder: LockHolder = {
    owner: request.owner,
    mode: request.mode,
    token: record.token + 1,
    leaseUntil: now + leaseMs,
    node: request.node,
  };
  return { granted: true, record: { token: holder.token, holders: [...others, holder] }, holder };
}

/** Removes the grant `token` of `owner`; `released` is false when it was not (or no longer) held. */
export function releaseLock(
  record: LockRecord,
  owner: string,
  token: number,
  now: number,
): { readonly record: LockRecord; readonly released: boolean } {
  const live = liveHolders(record, now);
  const kept = live.filter((holder) => !(holder.owner === owner && holder.token === token));
  return { record: { token: record.token, holders: kept }, released: kept.length < live.length };
}

/** Extends the lease of grant `token`; undefined when it was lost (its lease ran out first). */
export function renewLock(
  record: LockRecord,
  owner: string,
  token: number,
  now: number,
  leaseMs: number,
): LockRecord | undefined {
  const live = liveHolders(record, now);
  if (!live.some((holder) => holder.owner === owner && holder.token === token)) return undefined;
  return {
    token: record.token,
    holders: live.map((holder) =>
      holder.owner === owner && holder.token === token
        ? { ...holder, leaseUntil: now + leaseMs }
        : holder,
    ),
  };
}
