import { invalidArgument } from "./errors.js";

/** The longest key a Store accepts, in UTF-8 bytes (fits every engine's index limits). */
export const MAX_KEY_BYTES = 1024;

// UTF-16 code units compare like code points (and so like UTF-8 bytes) except that surrogates
// (which encode code points above U+FFFF) must sort after U+E000..U+FFFF.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Compares two keys in the order every Store lists them: by their UTF-8 bytes, which is code
 * point order. (JavaScript's `<` on strings compares UTF-16 code units, which differs for
 * characters above U+FFFF.)
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** The smallest key greater than `key`: use it as a `start` to page forward after `key`. */
export function keySuccessor(key: string): string {
  return `${key}\u0000`;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or undefined when there is
 * none (the prefix is empty or all U+10FFFF). Adapters use it to turn a prefix into a range.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop() as string;
    const code = last.codePointAt(0) as number;
    if (code < 0x10ffff) {
      // Skip the surrogate block: it holds no valid code point.
      const next = code + 1 === 0xd800 ? 0xe000 : code + 1;
      return points.join("") + String.fromCodePoint(next);
    }
  }
  return undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `text` holds a lone UTF-16 surrogate: valid in a JS string and in JSON (`"\ud800"`),
 * but no Unicode text, so it has no UTF-8 form and cannot be stored, hashed or put in a URL.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** Throws INVALID_ARGUMENT naming `field` unless `key` is a valid Store key. */
export function validateKey(key: unknown, field = "key"): asserts key is string {
  if (typeof key !== "string") throw invalidArgument(field, `expected a string, got ${typeof key}`);
  if (key.length === 0) throw invalidArgument(field, "must not be empty");
  if (LONE_SURROGATE.test(key)) {
    throw invalidArgument(field, "contains a lone UTF-16 surrogate, which has no UTF-8 form");
  }
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw invalidArgument(field, `is longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
}

/** Validates the keys of a `getMany` call, naming the offending `keys[i]`. */
export function validateKeys(keys: readonly string[], field = "keys"): void {
  if (!Array.isArray(keys)) throw invalidArgument(field, "expected an array of keys");
  for (let index = 0; index < keys.length; index++) validateKey(keys[index], `${field}[${index}]`);
}
