import { invalidArgument } from "@troupe/core";

/** A stream's identity: a namespace (what kind of events) and a key (whose events). */
export interface StreamId {
  /** A letter, then letters, digits, `_`, `.` or `-` (at most 100). */
  readonly namespace: string;
  /** 1-128 letters, digits or `_ . : -` (the key of the implicit consumer actor, too). */
  readonly key: string;
}

const NAMESPACE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Validates a namespace; throws INVALID_ARGUMENT naming `field`. */
export function validateNamespace(value: unknown, field = "namespace"): string {
  if (typeof value !== "string") {
    throw invalidArgument(field, `expected a string, got ${describe(value)}`);
  }
  if (!NAMESPACE.test(value)) {
    throw invalidArgument(
      field,
      `expected a letter, then letters, digits, _, . or - (at most 100), got ${describe(value)}`,
    );
  }
  return value;
}

/** Validates a stream key; throws INVALID_ARGUMENT naming `field`. */
export function validateStreamKey(value: unknown, field = "key"): string {
  if (typeof value !== "string") {
    throw invalidArgument(field, `expected a string, got ${describe(value)}`);
  }
  if (!KEY.test(value)) {
    throw invalidArgument(
      field,
      `expected 1-128 letters, digits, _, ., : or -, got ${describe(value)}`,
    );
  }
  return value;
}

/** Validates both parts of a stream id. */
export function validateStreamId(namespace: unknown, key: unknown): StreamId {
  return { namespace: validateNamespace(namespace), key: validateStreamKey(key) };
}

/** Validates a sequence number to resume after: a non-negative safe integer. */
export function validateSeq(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(field, `expected a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** Parses a sequence number written as decimal text (a query parameter or header). */
export function parseSeqText(text: string, field: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw invalidArgument(field, `expected a non-negative integer, got ${describe(text)}`);
  }
  return Number(text);
}

/** Where a stream's records live in the Store and which PubSub channel announces it. */
export interface StreamLayout {
  /** The head record (last sequence number). */
  head(id: StreamId): string;
  /** Every head lies under this prefix. */
  readonly headPrefix: string;
  /** The record of event `seq`. */
  event(id: StreamId, seq: number): string;
  /** Every event of the stream lies under this prefix, in sequence order. */
  eventPrefix(id: StreamId): string;
  /** The cursor of one actor consumer of the stream. */
  cursor(id: StreamId, consumer: string): string;
  /** Every cursor of the stream lies under this prefix. */
  cursorPrefix(id: StreamId): string;
  /** Every cursor of every stream lies under this prefix. */
  readonly allCursorsPrefix: string;
  /** The stream id of a head key (the inverse of `head`). */
  idOfHead(key: string): StreamId;
  /** The stream id and consumer of a cursor key. */
  idOfCursor(key: string): { id: StreamId; consumer: string };
  /** The PubSub channel that announces new events of the stream. */
  channel(id: StreamId): string;
}

/** Sequence numbers are zero-padded so key order is sequence order. */
const SEQ_DIGITS = 15;

/** The layout under a Store key prefix (default `streams/`) and a PubSub channel prefix. */
export function streamLayout(prefix = "streams/", channelPrefix = "troupe.streams"): StreamLayout {
  const headPrefix = `${prefix}h/`;
  const allCursorsPrefix = `${prefix}c/`;
  const idOf = (rest: string): StreamId => {
    const slash = rest.indexOf("/");
    return { namespace: rest.slice(0, slash), key: rest.slice(slash + 1) };
  };
  return {
    head: (id) => `${headPrefix}${id.namespace}/${id.key}`,
    headPrefix,
    event: (id, seq) =>
      `${prefix}e/${id.namespace}/${id.key}/${String(seq).padStart(SEQ_DIGITS, "0")}`,
    eventPrefix: (id) => `${prefix}e/${id.namespace}/${id.key}/`,
    cursor: (id, consumer) => `${allCursorsPrefix}${id.namespace}/${id.key}/${consumer}`,
    cursorPrefix: (id) => `${allCursorsPrefix}${id.namespace}/${id.key}/`,
    allCursorsPrefix,
    idOfHead: (key) => idOf(key.slice(headPrefix.length)),
    idOfCursor: (key) => {
      const rest = key.slice(allCursorsPrefix.length);
      const last = rest.lastIndexOf("/");
      return { id: idOf(rest.slice(0, last)), consumer: rest.slice(last + 1) };
    },
    // Namespaces and keys hold only channel-safe characters, so the id maps one to one.
    channel: (id) => `${channelPrefix}/${id.namespace}/${id.key}`,
  };
}
