import { fromUtf8, jsonCodec, utf8 } from "@troupe/core";

/**
 * A cheap fingerprint of the state for change detection: native JSON.stringify, falling back to
 * the codec's text for values plain JSON cannot hold (bigint). Stored bytes always use the codec.
 */
export function fingerprint(state: unknown): string {
  try {
    return JSON.stringify(state) ?? "undefined";
  } catch {
    return fromUtf8(jsonCodec.encode(state));
  }
}

// What in a plain JSON text hints that the codec would have written it differently: tag-like
// keys, `null` (undefined in arrays, NaN), a serialised Uint8Array (`{"0":…}`, or `{}` when
// empty), an ISO date (a Date).
const CODEC_HINT = /"\$|null|\{"0":|\{\}|"[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/;

/**
 * The stored bytes of a state whose fingerprint is `print`. For plain JSON data they are the
 * fingerprint itself (the codec would write the same text); anything the codec treats specially
 * goes through the codec.
 */
export function encodeState(state: unknown, print: string): Uint8Array {
  if (print === "undefined" || CODEC_HINT.test(print)) return jsonCodec.encode(state);
  return utf8(print);
}
