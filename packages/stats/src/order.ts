import type { Bucket, CapContribution, CapMode, Contribution } from "./types.js";

/** Bucket ranks of rule R1: FLAT < MULT < POST_ADD < OVERRIDE. */
export const BUCKET_RANK: Readonly<Record<Bucket, number>> = {
  FLAT: 0,
  MULT: 1,
  POST_ADD: 2,
  OVERRIDE: 3,
};

/** Cap mode ranks of rule R1, in the order the spec lists the modes. */
export const MODE_RANK: Readonly<Record<CapMode, number>> = {
  BASELINE: 0,
  ADDITIVE: 1,
  HARD_MAX: 2,
  HARD_MIN: 3,
  OVERRIDE: 4,
  SOFT_MAX: 5,
};

/**
 * Orders two numbers ascending, with −0 before +0, so sorting is a total order and results are
 * bit-identical whatever the input order.
 */
export function compareValues(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === 0 && b === 0) {
    const negativeA = 1 / a < 0;
    const negativeB = 1 / b < 0;
    return negativeA === negativeB ? 0 : negativeA ? -1 : 1;
  }
  return 0;
}

/** Orders system ids by UTF-16 code units (ids are usually ASCII, where this is byte order). */
function compareStrings(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** The rank of a bucket; a comparison chain beats a keyed lookup on a record in V8's hot path. */
function bucketRank(bucket: Bucket): number {
  return bucket === "FLAT" ? 0 : bucket === "MULT" ? 1 : bucket === "POST_ADD" ? 2 : 3;
}

/** Rule R1 for contributions: bucket rank, priority desc, system asc, value asc. */
export function compareContributions(a: Contribution, b: Contribution): number {
  const bucket = a.bucket === b.bucket ? 0 : bucketRank(a.bucket) - bucketRank(b.bucket);
  if (bucket !== 0) return bucket;
  const priority = (b.priority ?? 0) - (a.priority ?? 0);
  if (priority !== 0) return priority;
  const system = compareStrings(a.system, b.system);
  if (system !== 0) return system;
  return compareValues(a.value, b.value);
}

/** Rule R1 for caps: mode rank, priority desc, system asc, value asc. */
export function compareCaps(a: CapContribution, b: CapContribution): number {
  const mode = MODE_RANK[a.mode] - MODE_RANK[b.mode];
  if (mode !== 0) return mode;
  const priority = (b.priority ?? 0) - (a.priority ?? 0);
  if (priority !== 0) return priority;
  const system = compareStrings(a.system, b.system);
  if (system !== 0) return system;
  return compareValues(a.value, b.value);
}

/**
 * Sorts the first `length` items in place. Insertion sort: the lists folded per dimension hold a
 * handful of items, where it beats `Array.prototype.sort` and allocates nothing.
 */
export function insertionSort<T>(items: T[], length: number, compare: (a: T, b: T) => number) {
  for (let i = 1; i < length; i++) {
    const item = items[i] as T;
    let j = i - 1;
    while (j >= 0 && compare(items[j] as T, item) > 0) {
      items[j + 1] = items[j] as T;
      j--;
    }
    items[j + 1] = item;
  }
}
