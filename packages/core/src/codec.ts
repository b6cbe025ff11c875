import type { z } from "zod";
import { TroupeError } from "./errors.js";
import { parseWith } from "./parse.js";

/** Turns values into the bytes a port stores, and back. */
export interface Codec<T> {
  /** Encodes a value to bytes. */
  encode(value: T): Uint8Array;
  /** Decodes bytes written by `encode`; throws a TroupeError (code `INVALID_ARGUMENT`) on bad input. */
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// Tagged forms for values plain JSON cannot hold. A plain object that happens to have a single
// tag-like key is escaped as { $object: { k, v } } so it round-trips unchanged.
const TAGS = new Set(["$bigint", "$date", "$bytes", "$undefined", "$object"]);

/**
 * The keys `JSON.stringify` writes for a plain object: an undefined, function or symbol value
 * leaves its key out, so `{ $date: "x", other: undefined }` is written as a single tag-like key
 * and must be escaped like one.
 */
function writtenKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).filter((key) => {
    const kind = typeof record[key];
    return kind !== "undefined" && kind !== "function" && kind !== "symbol";
  });
}

function replace(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === "bigint") return { $bigint: raw.toString() };
  if (raw instanceof Date) {
    // An invalid Date has no ISO form; "Invalid Date" parses back to one.
    return { $date: Number.isNaN(raw.getTime()) ? "Invalid Date" : raw.toISOString() };
  }
  if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw).toString("base64") };
  if (raw === undefined && Array.isArray(this)) return { $undefined: 1 };
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = writtenKeys(value as Record<string, unknown>);
    const only = keys[0] as string;
    // Two keys ({ k, v }) so the escape itself never looks like a tag.
    if (keys.length === 1 && TAGS.has(only)) {
      return { $object: { k: only, v: (value as Record<string, unknown>)[only] } };
    }
  }
  return value;
}

/** `value` as JSON text with the tagged forms (undefined for a bare undefined or function). */
export function taggedJson(value: unknown): string | undefined {
  return JSON.stringify(value, replace);
}

/** Nesting deeper than this takes the replacer path (which also reports cycles). */
const PLAIN_DEPTH = 64;

/**
 * True when `JSON.stringify(value)` writes exactly what the tagging replacer would, so the
 * replacer (a call back into JavaScript for every key) can be skipped: only strings, finite or
 * non-finite numbers, booleans, null, dense arrays of those, and plain objects (no `toJSON`, not
 * a single tag-like key) nested at most {@link PLAIN_DEPTH} deep. Anything else, and anything
 * unsure, answers false.
 */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (depth >= PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      // A hole or undefined reads as undefined, which the replacer tags.
      if (!isPlainJson(value[i], depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const key of keys) {
    const inner = record[key];
    // An undefined property is left out either way; a toJSON would be called first.
    if (inner === undefined) continue;
    if (key === "toJSON" || !isPlainJson(inner, depth + 1)) return false;
  }
  // One tag-like key among the written ones needs the replacer's escape.
  const written = writtenKeys(record);
  return !(written.length === 1 && TAGS.has(written[0] as string));
}

/** The reviver that turns tagged forms back into their values (for `JSON.parse`). */
export function reviveTagged(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== 1) return value;
  const tag = keys[0] as string;
  const inner = record[tag];
  switch (tag) {
    case "$bigint":
      return BigInt(inner as string);
    case "$date":
      return new Date(inner as string);
    case "$bytes":
      return new Uint8Array(Buffer.from(inner as string, "base64"));
    case "$undefined":
      return undefined;
    case "$object": {
      const escaped = inner as { k: string; v: unknown };
      return { [escaped.k]: escaped.v };
    }
    default:
      return value;
  }
}

/**
 * True when parsed JSON holds an object the reviver would turn back into something else (an
 * object whose only key is a tag); without one, parsing with the reviver changes nothing, so the
 * reviver (a call back into JavaScript for every key) can be skipped.
 */
export function hasTaggedForm(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object") return false;
  // Deeper than this, the reviver is taken as before (unsure counts as tagged).
  if (depth >= PLAIN_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (hasTaggedForm(item, depth + 1)) return true;
    return false;
  }
  let count = 0;
  let first = "";
  for (const key in value) {
    if (count++ === 0) first = key;
    if (hasTaggedForm((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return count === 1 && TAGS.has(first);
}

/** Parses JSON text written by `encode`, turning tagged forms back into their values. */
export function parseTagged(text: string): unknown {
  const plain: unknown = JSON.parse(text);
  return hasTaggedForm(plain) ? JSON.parse(text, reviveTagged) : plain;
}

/**
 * A JSON codec that also round-trips `bigint`, `Date`, `Uint8Array` and `undefined` inside arrays.
 * Stored bytes are readable UTF-8 JSON, so values stay inspectable in any database. When `schema`
 * is given, decoded values are validated and a mismatch is a clear error naming the field.
 */
export function createJsonCodec<T = unknown>(schema?: z.ZodType<T>): Codec<T> {
  return {
    encode(value) {
      const text = isPlainJson(value) ? JSON.stringify(value) : taggedJson(value);
      if (text === undefined) {
        throw new TroupeError("INVALID_ARGUMENT", "value: cannot encode undefined or a function");
      }
      return encoder.encode(text);
    },
    decode(bytes) {
      let value: unknown;
      try {
        value = parseTagged(decoder.decode(bytes));
      } catch (cause) {
        throw new TroupeError("INVALID_ARGUMENT", "value: stored bytes are not valid JSON", {
          cause,
        });
      }
      if (!schema) return value as T;
      // A bad stored value names its path inside the value (`value` for the whole of it).
      return parseWith(schema, value, "");
    },
  };
}

/** The default codec: JSON with bigint, Date and bytes support, no validation. */
export const jsonCodec: Codec<unknown> = createJsonCodec();

/** UTF-8 text to bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes to UTF-8 text (throws on invalid UTF-8). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
