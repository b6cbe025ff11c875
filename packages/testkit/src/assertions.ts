import { StoreConflictError, TroupeError } from "@troupe/core";
import { expect } from "vitest";

/** The default per-test timeout of every suite (real engines can be slow on a busy CI machine). */
export const DEFAULT_TEST_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `value` decoded as UTF-8. */
export function text(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : decoder.decode(value);
}

/**
 * Deterministic pseudo-random bytes (xorshift32), with every 7th byte zero so engines that treat
 * bytes as C strings are caught. Seeded, so a failure reproduces.
 */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = i % 7 === 0 ? 0 : state & 0xff;
  }
  return out;
}

/** Asserts `actual` is a Uint8Array holding exactly `expected` (fast enough for 1 MiB values). */
export function expectBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
  what: string,
): void {
  expect(actual, `${what}: expected a Uint8Array`).toBeInstanceOf(Uint8Array);
  if (!actual) return;
  expect(actual.byteLength, `${what}: byte length`).toBe(expected.byteLength);
  let firstDifference = -1;
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      firstDifference = i;
      break;
    }
  }
  expect(firstDifference, `${what}: first differing byte index`).toBe(-1);
}

/**
 * Runs `action` and asserts it fails with a TroupeError of `code`; with `field`, also that the
 * error names that field (INVALID_ARGUMENT errors say `field: problem`). Returns the error.
 */
export async function expectTroupeError(
  action: () => unknown,
  code: string,
  field?: string,
): Promise<TroupeError> {
  let caught: unknown;
  let threw = false;
  try {
    await action();
  } catch (error) {
    caught = error;
    threw = true;
  }
  expect(threw, `expected a TroupeError with code ${code}, but the call succeeded`).toBe(true);
  expect(
    TroupeError.isInstance(caught),
    `expected a TroupeError with code ${code}, got ${String(caught)}`,
  ).toBe(true);
  const error = caught as TroupeError;
  expect(error.code, `error code (message: ${error.message})`).toBe(code);
  if (field !== undefined) {
    const named = error.details.field === field || error.message.includes(field);
    expect(named, `expected the error to name field "${field}", got: ${error.message}`).toBe(true);
  }
  return error;
}

/** Asserts `action` fails with a StoreConflictError naming `key`; returns it. */
export async function expectConflict(
  action: () => unknown,
  key: string,
  expected: number | "absent",
  actual: number | "absent",
): Promise<StoreConflictError> {
  const error = await expectTroupeError(action, "STORE_CONFLICT");
  expect(StoreConflictError.isInstance(error)).toBe(true);
  const conflict = error as StoreConflictError;
  expect({ key: conflict.key, expected: conflict.expected, actual: conflict.actual }).toEqual({
    key,
    expected,
    actual,
  });
  return conflict;
}

/** A small seeded random source (xorshift32), so a failing random scenario reproduces. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T;
  /** `count` distinct elements of `items`, in random order. */
  sample<T>(items: readonly T[], count: number): T[];
}

/** A seeded {@link Random}. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (items) => items[int(items.length)] as (typeof items)[number],
    sample: (items, count) => {
      const pool = [...items];
      const out: (typeof pool)[number][] = [];
      while (out.length < count && pool.length > 0)
        out.push(pool.splice(int(pool.length), 1)[0] as (typeof pool)[number]);
      return out;
    },
  };
}
