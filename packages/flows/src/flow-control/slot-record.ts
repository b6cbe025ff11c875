import { createJsonCodec, type EnqueueItem, fromUtf8, type StoreOp, utf8 } from "@troupe/core";

/**
 * The slot record of one concurrency key, its parked items and their Store keys (the rule they
 * serve is at the top of `concurrency.ts`). The record is read and rewritten on every acquire and
 * release, so it is stored with one-letter fields — `{ v, l, h, r: { e, p }, n }` — which only
 * {@link decodeSlot} and {@link encodeSlot} read and write.
 */
export interface SlotRecord {
  /** The key's value. */
  keyValue: string;
  /** The limit last applied. */
  limit: number;
  /** Holders: lease id → expiry (ms). */
  holders: Record<string, number>;
  /** Reservations: item id → expiry and park entry key. */
  reservations: Record<string, Reservation>;
  /** How many items are parked. */
  parked: number;
}

/** A slot handed to an item on its way to a worker. */
export interface Reservation {
  readonly expiresAt: number;
  /** The item's park entry ("" for a reservation made at ingest, which has none). */
  readonly parkKey: string;
}

interface StoredSlotRecord {
  readonly v: string;
  readonly l: number;
  readonly h: Record<string, number>;
  readonly r: Record<string, { readonly e: number; readonly p: string }>;
  readonly n: number;
}

const codec = createJsonCodec<unknown>();

/** Decodes a slot record (or an empty one for `keyValue`). */
export function decodeSlot(value: Uint8Array | undefined, keyValue: string): SlotRecord {
  if (!value) return { keyValue, limit: 0, holders: {}, reservations: {}, parked: 0 };
  const stored = codec.decode(value) as StoredSlotRecord;
  const reservations: Record<string, Reservation> = {};
  for (const [id, { e, p }] of Object.entries(stored.r))
    reservations[id] = { expiresAt: e, parkKey: p };
  return {
    keyValue: stored.v,
    limit: stored.l,
    holders: { ...stored.h },
    reservations,
    parked: stored.n,
  };
}

/** The bytes of a slot record. */
export function encodeSlot(record: SlotRecord): Uint8Array {
  const r: Record<string, { e: number; p: string }> = {};
  for (const [id, reservation] of Object.entries(record.reservations))
    r[id] = { e: reservation.expiresAt, p: reservation.parkKey };
  const stored: StoredSlotRecord = {
    v: record.keyValue,
    l: record.limit,
    h: record.holders,
    r,
    n: record.parked,
  };
  return codec.encode(stored);
}

/** Live holders + reservations of a record at `now`. */
export function slotsInUse(record: SlotRecord, now: number): number {
  let used = 0;
  for (const expiry of Object.values(record.holders)) if (expiry > now) used++;
  for (const reservation of Object.values(record.reservations))
    if (reservation.expiresAt > now) used++;
  return used;
}

/** Drops expired holders and reservations. */
export function prune(record: SlotRecord, now: number): void {
  for (const [id, expiry] of Object.entries(record.holders))
    if (expiry <= now) delete record.holders[id];
  for (const [id, reservation] of Object.entries(record.reservations))
    if (reservation.expiresAt <= now) delete record.reservations[id];
}

const pad = (time: number) => String(Math.max(0, Math.floor(time))).padStart(16, "0");

/** Where `slotKey`'s parked items live: `<prefix>fc/c/q/<scope>/<hash>/`. */
export function parkedPrefix(slotKey: string): string {
  const at = slotKey.indexOf("fc/c/");
  return `${slotKey.slice(0, at)}fc/c/q/${slotKey.slice(at + 5)}/`;
}

/** The marker listing `slotKey` among the keys with parked items (`<prefix>fc/c/b/…`). */
export function backlogKey(slotKey: string): string {
  const at = slotKey.indexOf("fc/c/");
  return `${slotKey.slice(0, at)}fc/c/b/${slotKey.slice(at + 5)}`;
}

/** The park entry of `item` (FIFO by due time, which includes the priority shift). */
export function parkKey(slotKey: string, item: EnqueueItem & { id: string }, now: number): string {
  return `${parkedPrefix(slotKey)}${pad(item.availableAt ?? now)}/${item.id}`;
}

/** A parked queue item as stored. */
interface ParkedItem {
  readonly id: string;
  readonly payload: string;
  readonly at: number;
  readonly priority?: number;
}

/** The bytes of a parked item. */
export function encodeParked(item: EnqueueItem & { id: string }, now: number): Uint8Array {
  const parked: ParkedItem = {
    id: item.id,
    payload: fromUtf8(item.payload),
    at: item.availableAt ?? now,
    ...(item.priority === undefined || item.priority === 0 ? {} : { priority: item.priority }),
  };
  return codec.encode(parked);
}

/** A parked item from its bytes, as the queue item to put back. */
export function decodeParked(value: Uint8Array): EnqueueItem & { id: string } {
  const parked = codec.decode(value) as ParkedItem;
  return {
    id: parked.id,
    payload: utf8(parked.payload),
    availableAt: parked.at,
    ...(parked.priority === undefined ? {} : { priority: parked.priority }),
  };
}

/** The ops writing `record` back (or deleting it when it holds nothing). */
export function writeRecord(
  key: string,
  record: SlotRecord,
  version: number | undefined,
  wasBacklogged: boolean,
): StoreOp[] {
  const expect = version === undefined ? ("absent" as const) : version;
  const ops: StoreOp[] = [];
  const empty =
    Object.keys(record.holders).length === 0 &&
    Object.keys(record.reservations).length === 0 &&
    record.parked <= 0;
  if (empty) {
    if (version !== undefined) ops.push({ type: "delete", key, expect });
    else ops.push({ type: "check", key, expect });
  } else {
    ops.push({ type: "set", key, value: encodeSlot(record), expect });
  }
  if (record.parked > 0 && !wasBacklogged)
    ops.push({ type: "set", key: backlogKey(key), value: new Uint8Array(0) });
  if (record.parked <= 0 && wasBacklogged) ops.push({ type: "delete", key: backlogKey(key) });
  return ops;
}
