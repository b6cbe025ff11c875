import { type Clock, fromUtf8, type Store, utf8 } from "@troupe/core";
import { z } from "zod";
import { snapshotSchema } from "./schemas.js";
import type { Snapshot } from "./types.js";

/** The format version of snapshots stored in L2/L3 tiers; records of another format are misses. */
export const SNAPSHOT_FORMAT_VERSION = 1;

interface LruEntry {
  readonly actorId: string;
  snapshot: Snapshot;
  // The snapshot's version and epoch, kept here so that a miss (the usual lookup of an actor that
  // changed) reads only the entry, not the old snapshot too: one cache miss less.
  version: number;
  epoch: number;
  expiresAt: number;
  /** False once the entry left the cache. */
  live: boolean;
  newer: LruEntry | undefined;
  older: LruEntry | undefined;
}

/** Counters of the L1 cache. */
export interface L1Stats {
  /** Lookups that returned a snapshot. */
  readonly hits: number;
  /** Lookups that found nothing usable (absent, other version or epoch, expired). */
  readonly misses: number;
  /** Entries dropped because the cache was full. */
  readonly evictions: number;
  /** Entries dropped because their TTL passed. */
  readonly expirations: number;
  /** Entries held now. */
  readonly entries: number;
}

/**
 * The L1 tier: one snapshot per actor id (the newest written), bounded, least recently used
 * evicted first, with a TTL as a safety net. Recency is an intrusive doubly linked list, so a hit
 * costs a map lookup and a few pointer moves, never a scan.
 */
export class SnapshotLru {
  private readonly entries = new Map<string, LruEntry>();
  private newest: LruEntry | undefined;
  private oldest: LruEntry | undefined;
  private hitCount = 0;
  private missCount = 0;
  private evictionCount = 0;
  private expirationCount = 0;
  // The entry the last `get` found and could not serve: `set` for the same actor (the resolve
  // that follows a miss) then updates it without a second map lookup.
  private probed: LruEntry | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  /** The snapshot of `actorId` computed under `epoch` (and at `version`, when given), if fresh. */
  get(actorId: string, version: number | undefined, epoch: number): Snapshot | undefined {
    const entry = this.entries.get(actorId);
    if (entry === undefined) {
      this.missCount++;
      return undefined;
    }
    if (entry.epoch !== epoch || (version !== undefined && entry.version !== version)) {
      this.missCount++;
      this.probed = entry;
      return undefined;
    }
    if (this.clock.now() >= entry.expiresAt) {
      this.remove(entry);
      this.expirationCount++;
      this.missCount++;
      return undefined;
    }
    const snapshot = entry.snapshot;
    if (this.newest !== entry) {
      this.unlink(entry);
      this.pushNewest(entry);
    }
    this.hitCount++;
    return snapshot;
  }

  /**
   * Stores `snapshot` as its actor's entry (replacing an older one), evicting the LRU entry when
   * full. `now` is the clock's current time when the caller has just read it.
   */
  set(snapshot: Snapshot, now: number = this.clock.now()): void {
    const expiresAt = now + this.ttlMs;
    const probed = this.probed;
    this.probed = undefined;
    const existing =
      probed?.live && probed.actorId === snapshot.actor_id
        ? probed
        : this.entries.get(snapshot.actor_id);
    if (existing !== undefined) {
      existing.snapshot = snapshot;
      existing.version = snapshot.version;
      existing.epoch = snapshot.epoch;
      existing.expiresAt = expiresAt;
      if (this.newest !== existing) {
        this.unlink(existing);
        this.pushNewest(existing);
      }
      return;
    }
    this.add(snapshot, expiresAt);
  }

  /** A new entry (out of line: an actor resolved again updates its entry in place). */
  private add(snapshot: Snapshot, expiresAt: number): void {
    if (this.entries.size >= this.maxEntries && this.oldest !== undefined) {
      this.remove(this.oldest);
      this.evictionCount++;
    }
    const entry: LruEntry = {
      actorId: snapshot.actor_id,
      snapshot,
      version: snapshot.version,
      epoch: snapshot.epoch,
      expiresAt,
      live: true,
      newer: undefined,
      older: undefined,
    };
    this.entries.set(snapshot.actor_id, entry);
    this.pushNewest(entry);
  }

  /** Drops the entry of `actorId`. */
  delete(actorId: string): void {
    const entry = this.entries.get(actorId);
    if (entry !== undefined) this.remove(entry);
  }

  /** Drops everything. */
  clear(): void {
    for (const entry of this.entries.values()) entry.live = false;
    this.entries.clear();
    this.newest = undefined;
    this.oldest = undefined;
  }

  /** How many entries are held. */
  get size(): number {
    return this.entries.size;
  }

  /** Hit, miss, eviction and expiration counters. */
  stats(): L1Stats {
    return {
      hits: this.hitCount,
      misses: this.missCount,
      evictions: this.evictionCount,
      expirations: this.expirationCount,
      entries: this.entries.size,
    };
  }

  private remove(entry: LruEntry): void {
    this.unlink(entry);
    this.entries.delete(entry.actorId);
    entry.live = false;
  }

  private unlink(entry: LruEntry): void {
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    entry.newer = undefined;
    entry.older = undefined;
  }

  private pushNewest(entry: LruEntry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (this.oldest === undefined) this.oldest = entry;
  }
}

/** An L2/L3 cache tier on any {@link Store}. */
export interface SnapshotTier {
  /** The store holding the snapshots. */
  readonly store: Store;
  /** A name for metrics labels and logs; default `l2`, `l3`, … by position. */
  readonly name?: string;
  /** Key prefix; default `stats/snapshot/`. One key per actor: `<prefix><actor id>`. */
  readonly keyPrefix?: string;
}

const storedSnapshotSchema = z.object({
  format: z.number(),
  fingerprint: z.string(),
  snapshot: z.unknown(),
});

/** Encodes a snapshot for a store tier: format version, registry fingerprint, snapshot. */
export function encodeStoredSnapshot(snapshot: Snapshot, fingerprint: string): Uint8Array {
  return utf8(JSON.stringify({ format: SNAPSHOT_FORMAT_VERSION, fingerprint, snapshot }));
}

/**
 * Decodes a stored snapshot; undefined when it is of another format version, another registry
 * fingerprint or another actor version (a miss, not an error). Throws on corrupt bytes.
 */
export function decodeStoredSnapshot(
  bytes: Uint8Array,
  fingerprint: string,
  version: number,
): Snapshot | undefined {
  const record = storedSnapshotSchema.parse(JSON.parse(fromUtf8(bytes)));
  if (record.format !== SNAPSHOT_FORMAT_VERSION || record.fingerprint !== fingerprint)
    return undefined;
  const snapshot = snapshotSchema.parse(record.snapshot);
  return snapshot.version === version ? snapshot : undefined;
}
