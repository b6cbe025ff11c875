// The fold's row layout: how a contribution's dimension, section and bucket pack into one cell
// key, the operations a plan assigns to a section, and the small helpers the fold's rows share.

/** Never equal to a dimension name: marks an empty entry of the name caches. */
export const NO_NAME: unknown = Object.freeze({});

/**
 * Cells per dimension: 2 sections (primary, derived) × 4 buckets (FLAT, MULT, POST_ADD,
 * OVERRIDE). A contribution's cell key is `dimension * 8 + section * 4 + bucket`.
 */
export const CELLS = 8;

/** Planned operations of a section: empty; one row's value; that value `+ 0`; 0; the full fold. */
export const OP_NONE = 0;
export const OP_ROW = 1;
export const OP_ROW_PLUS_ZERO = 2;
export const OP_ZERO = 3;
export const OP_GENERAL = 4;

export interface MutablePack {
  additive_percent: number;
  multipliers: number[];
  post_add: number;
}

export function bucketCode(bucket: unknown): number {
  switch (bucket) {
    case "FLAT":
      return 0;
    case "MULT":
      return 1;
    case "POST_ADD":
      return 2;
    case "OVERRIDE":
      return 3;
    default:
      return -1;
  }
}

/** `Object.is` for numbers that are never NaN here: −0 and +0 differ. */
export function sameNumber(a: number, b: number): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / b);
}

/** True for a finite number (NaN and ±∞ fail `x - x === 0`). */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && value - value === 0;
}

export function isPriority(value: unknown): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

/** Grows a typed array to at least `size` entries (doubling), keeping its contents. */
export function growInt32(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(Math.max(size, array.length * 2, 64));
  grown.set(array);
  return grown;
}

export function growFloat64(array: Float64Array, size: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(Math.max(size, array.length * 2, 64));
  grown.set(array);
  return grown;
}
