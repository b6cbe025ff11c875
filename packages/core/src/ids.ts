import { randomFillSync } from "node:crypto";
import { encodeTime, monotonicFactory } from "ulid";
import { type Clock, systemClock } from "./clock.js";

/** Makes sortable unique ids. */
export type IdGenerator = () => string;

/**
 * Returns a generator of ULIDs (26 characters, Crockford base32) stamped with `clock`'s time.
 * Ids from one generator sort in the order they were made, even within one millisecond. A ULID
 * holds times below 2^48 ms (the year 10889); a clock set later makes the generator throw.
 */
export function createIdGenerator(clock: Clock = systemClock): IdGenerator {
  const next = monotonicFactory(pooledRandom);
  return () => next(clock.now());
}

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolAt = POOL_BYTES;

/**
 * A cryptographic random number in [0, 1) with 8 bits of precision, drawn from a pool refilled
 * 4 KiB at a time: the ULID encoder asks for one per character (32 values, so 8 bits are
 * uniform), and one `randomFillSync` call per character was a measurable share of an id.
 */
function pooledRandom(): number {
  if (poolAt === POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return (pool[poolAt++] as number) / 256;
}

/** A ULID from the system clock. */
export const ulid: IdGenerator = createIdGenerator();

const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `value` is a well-formed ULID. */
export function isUlid(value: string): boolean {
  return ULID_PATTERN.test(value);
}

/**
 * The 10-character time part of a ULID made at `ms`: every ULID made at `ms` or later sorts at or
 * after it, every earlier one before it, so it bounds a range of ULID-keyed records by time.
 */
export function ulidTimePrefix(ms: number): string {
  return encodeTime(Math.max(0, Math.floor(ms)), 10);
}

/** The creation time encoded in a ULID, in ms since the epoch. */
export function ulidTime(id: string): number {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let time = 0;
  for (const char of id.slice(0, 10)) time = time * 32 + alphabet.indexOf(char);
  return time;
}
