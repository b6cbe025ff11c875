import { invalidArgument } from "@troupe/core";

/** How retries are spaced: exponential from `baseMs`, capped at `maxMs`, with random jitter. */
export interface BackoffOptions {
  /** The delay before the first retry, before jitter. Default 1000 ms. */
  readonly baseMs?: number;
  /** The largest delay, before jitter. Default 10 minutes. */
  readonly maxMs?: number;
  /**
   * The fraction of the delay that is random, 0..1: the delay lies in
   * `[capped × (1 − jitter), capped]`. Default 0.5.
   */
  readonly jitter?: number;
}

/** The normalised backoff rule. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitter: number;
}

/** Validates and fills in defaults. */
export function resolveBackoff(options: BackoffOptions = {}): Backoff {
  const baseMs = options.baseMs ?? 1000;
  const maxMs = options.maxMs ?? 600_000;
  const jitter = options.jitter ?? 0.5;
  if (!Number.isInteger(baseMs) || baseMs < 1)
    throw invalidArgument("backoff.baseMs", "expected a positive integer");
  if (!Number.isInteger(maxMs) || maxMs < baseMs)
    throw invalidArgument("backoff.maxMs", "expected an integer at least baseMs");
  if (!(jitter >= 0 && jitter <= 1))
    throw invalidArgument("backoff.jitter", "expected a number from 0 to 1");
  return { baseMs, maxMs, jitter };
}

/**
 * The delay before retry number `retry` (0 = first retry): `min(maxMs, baseMs × 2^retry)`, minus
 * up to `jitter` of it. `random` returns [0, 1) and is injectable so tests can pin the bounds.
 */
export function backoffDelay(backoff: Backoff, retry: number, random: () => number): number {
  const exponent = Math.min(Math.max(0, retry), 40);
  const capped = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
