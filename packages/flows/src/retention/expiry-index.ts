import { type Clock, createJsonCodec, type StoreEntry, type StoreOp } from "@troupe/core";
import type { CommitBatcher } from "../commit-batcher.js";
import type { RunRecord } from "../run-state.js";

/**
 * The expiry index: one Store key per record that expires, `<prefix>x/<expires at>/<kind>/<id>`,
 * written in the same commit as the record. Times are zero-padded so keys sort by expiry, and the
 * sweeper lists the due ones (`end` = now) a page at a time. The Store port has no TTL, so this is
 * how every adapter (memory, SQLite, PostgreSQL, Redis, NATS) finds what to delete without
 * scanning what is still live.
 */

/** What an expiry entry stands for. */
export type ExpiryKind = "event" | "skip" | "dedupe" | "run";

const LETTER: Readonly<Record<ExpiryKind, string>> = {
  event: "e",
  skip: "s",
  dedupe: "d",
  run: "r",
};
const KIND: Readonly<Record<string, ExpiryKind>> = { e: "event", s: "skip", d: "dedupe", r: "run" };

/** Width of the padded time: ms since the epoch fits in 15 digits until the year 33658. */
const TIME_WIDTH = 15;
const pad = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(TIME_WIDTH, "0");

/** One due entry of the expiry index, as the sweeper reads it. */
export interface ExpiryEntry {
  /** The index key itself. */
  readonly key: string;
  /** Its version as read: deleting it is guarded by it, so two sweepers delete it once. */
  readonly version: number;
  readonly kind: ExpiryKind;
  /** When the record expires, ms. */
  readonly at: number;
  /** The event id, run id, or (skip) the skip record's key suffix. */
  readonly id: string;
  /** The keys to delete (event, skip); empty for runs and dedupe keys, whose keys are derived. */
  readonly keys: readonly string[];
}

/** Stored value: the keys to delete, when not derived from the id. */
interface StoredExpiry {
  readonly keys?: readonly string[];
}

const codec = createJsonCodec<StoredExpiry>();

/** The expiry index's keys under an engine prefix. */
export interface ExpiryKeys {
  /** The prefix of every index entry. */
  readonly base: string;
  /** The entry for a record of `kind` and `id` expiring at `at`. */
  entry(at: number, kind: ExpiryKind, id: string): string;
  /** The exclusive end of the entries due at `now` (expiring at or before it). */
  dueEnd(now: number): string;
}

/** The expiry index keys under `prefix`. */
export function expiryKeys(prefix: string): ExpiryKeys {
  const base = `${prefix}x/`;
  return {
    base,
    entry: (at, kind, id) => `${base}${pad(at)}/${LETTER[kind]}/${id}`,
    dueEnd: (now) => `${base}${pad(now + 1)}`,
  };
}

/** An index entry read back; undefined for a key this version does not know (left alone). */
export function decodeExpiryEntry(base: string, entry: StoreEntry): ExpiryEntry | undefined {
  const rest = entry.key.slice(base.length);
  const at = Number(rest.slice(0, TIME_WIDTH));
  const kind = KIND[rest.charAt(TIME_WIDTH + 1)];
  if (!kind || !Number.isFinite(at) || rest.charAt(TIME_WIDTH + 2) !== "/") return undefined;
  const stored = codec.decode(entry.value);
  return {
    key: entry.key,
    version: entry.version,
    kind,
    at,
    id: rest.slice(TIME_WIDTH + 3),
    keys: stored.keys ?? [],
  };
}

/** What the index writer needs: the key layout and the times. */
export interface ExpiryWriterSettings {
  readonly prefix: string;
  readonly eventsMs: number;
  readonly runsMs: number;
  /** How long a dedupe key dedupes (it is deleted once that window has passed). */
  readonly dedupeWindowMs: number;
}

const setOp = (key: string, keys?: readonly string[]): StoreOp => ({
  type: "set",
  key,
  value: codec.encode(keys === undefined ? {} : { keys }),
});

/**
 * The index entries for what a commit stores, from its ops alone: each new event (with its
 * by-name entry and any skip records written with it) expires `eventsMs` after `now`; a skip
 * record written later than its event (a debounce that moved on) gets an entry of its own; a
 * dedupe key expires when its window ends. Pure: the engine adds these ops to every commit.
 */
export function expiryOpsForCommit(
  ops: readonly StoreOp[],
  now: number,
  settings: ExpiryWriterSettings,
): StoreOp[] {
  const { prefix } = settings;
  const eventBase = `${prefix}e/`;
  const byNameBase = `${prefix}en/`;
  const skipBase = `${prefix}es/`;
  const dedupeBase = `${prefix}dd/`;
  const index = expiryKeys(prefix);
  const events = new Map<string, string[]>();
  const byName: string[] = [];
  const skips: string[] = [];
  const out: StoreOp[] = [];
  for (const op of ops) {
    if (op.type !== "set") continue;
    const { key } = op;
    if (key.startsWith(eventBase)) events.set(key.slice(eventBase.length), [key]);
    else if (key.startsWith(byNameBase)) byName.push(key);
    else if (key.startsWith(skipBase)) skips.push(key);
    else if (key.startsWith(dedupeBase)) {
      // The dedupe key's own name may be long: the entry is named by the event that set it.
      const eventId = dedupeEventId(op.value) ?? key.slice(dedupeBase.length);
      out.push(setOp(index.entry(now + settings.dedupeWindowMs, "dedupe", eventId), [key]));
    }
  }
  for (const key of byName) events.get(key.slice(key.lastIndexOf("/") + 1))?.push(key);
  for (const key of skips) {
    const rest = key.slice(skipBase.length);
    const keys = events.get(rest.slice(0, rest.indexOf("/")));
    if (keys) keys.push(key);
    else out.push(setOp(index.entry(now + settings.eventsMs, "skip", rest), [key]));
  }
  for (const [id, keys] of events) {
    out.push(setOp(index.entry(now + settings.eventsMs, "event", id), keys));
  }
  return out;
}

const dedupeCodec = createJsonCodec<{ eventId?: unknown }>();

function dedupeEventId(value: Uint8Array): string | undefined {
  const { eventId } = dedupeCodec.decode(value);
  return typeof eventId === "string" && /^[0-9A-Z]{26}$/.test(eventId) ? eventId : undefined;
}

/** The index entry of a run that just finished: kept `runsMs` from `now`. */
export function runExpiryOp(run: RunRecord, now: number, settings: ExpiryWriterSettings): StoreOp {
  return setOp(expiryKeys(settings.prefix).entry(now + settings.runsMs, "run", run.id));
}

/**
 * A commit batcher that adds the expiry-index entries of what each commit stores
 * ({@link expiryOpsForCommit}), so no caller has to remember them.
 */
export function withExpiryIndex(
  batcher: CommitBatcher,
  clock: Clock,
  settings: ExpiryWriterSettings,
): CommitBatcher {
  return {
    pairsQueue: batcher.pairsQueue,
    commit(ops, items) {
      const extra = expiryOpsForCommit(ops, clock.now(), settings);
      return batcher.commit(extra.length === 0 ? ops : [...ops, ...extra], items);
    },
  };
}
