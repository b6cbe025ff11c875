import {
  type Clock,
  jsonCodec,
  type Store,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import { oldestKept } from "./ordering.js";
import type { StreamId, StreamLayout } from "./stream-id.js";

/** One event of a stream, as subscribers receive it. */
export interface StreamEvent<T = unknown> {
  /** The stream's namespace. */
  readonly namespace: string;
  /** The stream's key. */
  readonly key: string;
  /** The event's sequence number in its stream: 1, 2, 3, … with no holes. */
  readonly seq: number;
  /** When it was published (ms since the epoch, the publisher's clock). */
  readonly at: number;
  /** What the publisher gave (any value the JSON codec of `@troupe/core` carries). */
  readonly data: T;
}

/** The stored (and announced) form of an event: the stream id is in the key or channel. */
interface EventRecord {
  readonly seq: number;
  readonly at: number;
  readonly data: unknown;
}

/** What the log keeps. */
export interface Retention {
  /** Events kept per stream; older ones are removed as new ones are appended. */
  readonly maxEvents: number;
  /** Events older than this (ms) are removed by the sweep. */
  readonly maxAgeMs: number;
}

/** An appended event and its encoded record (the bytes announced on PubSub). */
export interface Appended {
  readonly event: StreamEvent;
  readonly bytes: Uint8Array;
}

/** Items to append to one stream. */
export interface AppendGroup {
  readonly id: StreamId;
  readonly items: readonly unknown[];
}

/** What became of one group of {@link EventLog.appendMany}. */
export type AppendOutcome =
  | { readonly ok: true; readonly appended: Appended[] }
  | { readonly ok: false; readonly error: unknown };

/** Streams' events in the Store: one head record per stream, one record per event. */
export interface EventLog {
  /**
   * Appends `items` as the stream's next events and returns them with their encoded records (the
   * bytes announced on PubSub). One guarded commit: head and events together, so sequence
   * numbers have no holes and no duplicates, whichever process appends. Check sizes first with
   * `encodedSize`.
   */
  append(id: StreamId, items: readonly unknown[]): Promise<Appended[]>;
  /**
   * Appends to several streams in one guarded commit (each stream at most once in `groups`): the
   * group commit of publishes to different streams. A stream whose head moved elsewhere is read
   * again and the commit retried; a stream that loses {@link APPEND_TRIES} races in a row fails
   * alone. Resolves with one outcome per group, in order.
   */
  appendMany(groups: readonly AppendGroup[]): Promise<AppendOutcome[]>;
  /** The encoded size of an event carrying `data` (at most; for the size limit). */
  encodedSize(data: unknown): number;
  /** Events with `seq > after`, in order, at most `limit`. */
  read(id: StreamId, after: number, limit: number): Promise<StreamEvent[]>;
  /** The stream's last sequence number (0 for a stream never published to). */
  head(id: StreamId): Promise<number>;
  /** The oldest retained event's sequence number, or undefined when none is retained. */
  firstRetained(id: StreamId): Promise<number | undefined>;
  /** Decodes an announced record of stream `id`. */
  decode(id: StreamId, bytes: Uint8Array): StreamEvent;
  /** Removes events older than `maxAgeMs` from one stream (at most `limit`); returns how many. */
  trimByAge(id: StreamId, limit: number): Promise<number>;
}

const SEQ_PREFIX = Array.from('{"seq":', (char) => char.charCodeAt(0));

/**
 * The sequence number of an encoded event record, read from its first bytes without decoding
 * the rest (records are written `{"seq":N,…}`); undefined when the bytes do not start that way.
 * Lets a subscriber drop an announcement it already delivered at almost no cost.
 */
export function peekSeq(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < SEQ_PREFIX.length; i++) if (bytes[i] !== SEQ_PREFIX[i]) return undefined;
  let seq = 0;
  for (let i = SEQ_PREFIX.length; i < bytes.length && i < SEQ_PREFIX.length + 16; i++) {
    const byte = bytes[i] as number;
    if (byte === 44 /* , */) return i > SEQ_PREFIX.length ? seq : undefined;
    if (byte < 48 || byte > 57) return undefined;
    seq = seq * 10 + (byte - 48);
  }
  return undefined;
}

/** Tries of one append when other processes append to the same stream at the same time. */
const APPEND_TRIES = 50;

export function createEventLog(options: {
  readonly store: Store;
  readonly layout: StreamLayout;
  readonly clock: Clock;
  readonly retention: Retention;
}): EventLog {
  const { store, layout, clock, retention } = options;
  // The head's last known version per stream, so an append needs no read when this process is
  // the stream's only publisher (a stale guess fails the guard and is read again).
  const heads = new Map<string, { seq: number; version: number | "absent" }>();

  const toEvent = (id: StreamId, record: EventRecord): StreamEvent => ({
    namespace: id.namespace,
    key: id.key,
    seq: record.seq,
    at: record.at,
    data: record.data,
  });

  const decodeRecord = (bytes: Uint8Array): EventRecord => {
    const value = jsonCodec.decode(bytes) as Partial<EventRecord> | null;
    if (
      value === null ||
      typeof value !== "object" ||
      typeof value.seq !== "number" ||
      typeof value.at !== "number"
    ) {
      throw new TroupeError("INTERNAL", "a stream event record is malformed");
    }
    return value as EventRecord;
  };

  const readHead = async (id: StreamId) => {
    const entry = await store.get(layout.head(id));
    const seq = entry === undefined ? 0 : (jsonCodec.decode(entry.value) as { seq: number }).seq;
    const known = { seq, version: entry === undefined ? ("absent" as const) : entry.version };
    heads.set(layout.head(id), known);
    return known;
  };

  // The ops appending `records` to stream `id` whose head is `known`: the guarded head, the
  // events, and the deletion of those pushed out by count retention (the last `maxEvents` stay).
  const appendOps = (
    ops: StoreOp[],
    id: StreamId,
    known: { seq: number; version: number | "absent" },
    records: readonly EventRecord[],
    encoded: readonly Uint8Array[],
  ) => {
    const last = known.seq + records.length;
    ops.push({
      type: "set",
      key: layout.head(id),
      value: jsonCodec.encode({ seq: last }),
      expect: known.version,
    });
    const keepFrom = oldestKept(last, retention.maxEvents);
    records.forEach((record, i) => {
      if (record.seq < keepFrom) return;
      ops.push({ type: "set", key: layout.event(id, record.seq), value: encoded[i] as Uint8Array });
    });
    const lastDropped = Math.min(keepFrom - 1, known.seq);
    for (let seq = oldestKept(known.seq, retention.maxEvents); seq <= lastDropped; seq++) {
      ops.push({ type: "delete", key: layout.event(id, seq) });
    }
  };

  const log: EventLog = {
    async append(id, items) {
      const [outcome] = await log.appendMany([{ id, items }]);
      if (outcome === undefined) throw new TroupeError("INTERNAL", "append returned nothing");
      if (!outcome.ok) throw outcome.error;
      return outcome.appended;
    },

    async appendMany(groups) {
      const outcomes: (AppendOutcome | undefined)[] = groups.map(() => undefined);
      const lostRaces = groups.map(() => 0);
      let live = groups.map((_, index) => index);
      while (live.length > 0) {
        const at = clock.now();
        const ops: StoreOp[] = [];
        const planned = new Map<number, { records: EventRecord[]; encoded: Uint8Array[] }>();
        const groupOfHead = new Map<string, number>();
        try {
          await Promise.all(
            live.map((index) => {
              const id = (groups[index] as AppendGroup).id;
              return heads.has(layout.head(id)) ? undefined : readHead(id);
            }),
          );
        } catch (error) {
          for (const index of live) outcomes[index] = { ok: false, error };
          break;
        }
        for (const index of live) {
          const { id, items } = groups[index] as AppendGroup;
          const headKey = layout.head(id);
          const known = heads.get(headKey) ?? { seq: 0, version: "absent" as const };
          groupOfHead.set(headKey, index);
          const records: EventRecord[] = items.map((data, i) => ({
            seq: known.seq + 1 + i,
            at,
            data,
          }));
          const encoded = records.map((record) => jsonCodec.encode(record));
          planned.set(index, { records, encoded });
          appendOps(ops, id, known, records, encoded);
        }
        try {
          const { version } = await store.commit(ops);
          for (const index of live) {
            const { id } = groups[index] as AppendGroup;
            const { records, encoded } = planned.get(index) as {
              records: EventRecord[];
              encoded: Uint8Array[];
            };
            heads.set(layout.head(id), { seq: records.at(-1)?.seq ?? 0, version });
            outcomes[index] = {
              ok: true,
              appended: records.map((record, i) => ({
                event: toEvent(id, record),
                bytes: encoded[i] as Uint8Array,
              })),
            };
          }
          break;
        } catch (error) {
          const lost = StoreConflictError.isInstance(error)
            ? groupOfHead.get(error.key)
            : undefined;
          if (lost === undefined) {
            for (const index of live) {
              heads.delete(layout.head((groups[index] as AppendGroup).id));
              outcomes[index] = { ok: false, error };
            }
            break;
          }
          // Another process appended to this stream: read its head again; the others' are good.
          const { id } = groups[lost] as AppendGroup;
          heads.delete(layout.head(id));
          lostRaces[lost] = (lostRaces[lost] ?? 0) + 1;
          if ((lostRaces[lost] ?? 0) >= APPEND_TRIES) {
            outcomes[lost] = {
              ok: false,
              error: new TroupeError(
                "STORE_CONFLICT",
                `stream ${id.namespace}/${id.key}: append lost ${APPEND_TRIES} races in a row`,
              ),
            };
            live = live.filter((index) => index !== lost);
          }
        }
      }
      return outcomes.map(
        (outcome) =>
          outcome ?? { ok: false, error: new TroupeError("INTERNAL", "append had no outcome") },
      );
    },

    encodedSize(data) {
      return jsonCodec.encode({ seq: Number.MAX_SAFE_INTEGER, at: clock.now(), data }).byteLength;
    },

    async read(id, after, limit) {
      const entries = await store.list({
        prefix: layout.eventPrefix(id),
        start: layout.event(id, after + 1),
        limit,
      });
      return entries.map((entry) => toEvent(id, decodeRecord(entry.value)));
    },

    async head(id) {
      return (await readHead(id)).seq;
    },

    async firstRetained(id) {
      const [first] = await store.list({ prefix: layout.eventPrefix(id), limit: 1 });
      return first === undefined ? undefined : decodeRecord(first.value).seq;
    },

    decode(id, bytes) {
      return toEvent(id, decodeRecord(bytes));
    },

    async trimByAge(id, limit) {
      const cutoff = clock.now() - retention.maxAgeMs;
      const oldest = await store.list({ prefix: layout.eventPrefix(id), limit });
      const expired = oldest.filter((entry) => decodeRecord(entry.value).at < cutoff);
      // The head keeps the sequence going even when every event expired.
      if (expired.length === 0) return 0;
      await store.commit(
        expired.map((entry) => ({ type: "delete", key: entry.key, expect: entry.version })),
      );
      return expired.length;
    },
  };
  return log;
}
