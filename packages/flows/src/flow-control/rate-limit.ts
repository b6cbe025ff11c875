import { parseWith } from "@troupe/core";
import { z } from "zod";
import { checkExpression, durationInput, durationWithin, expressionInput } from "./parse-option.js";

const SECOND = 1000;
const DAY = 86_400_000;

/** `rateLimit` as users write it: at most `limit` runs per `period`, per value of `key`. */
export const rateLimitSchema = z.strictObject({
  limit: z.number().int().min(1).max(100_000),
  period: durationInput,
  key: expressionInput.optional(),
});

/** `rateLimit` as `FunctionConfig` takes it. */
export type RateLimitOption = z.input<typeof rateLimitSchema>;

/** `rateLimit` in a function definition. */
export interface RateLimitDefinition {
  readonly limit: number;
  readonly periodMs: number;
  readonly key?: string;
}

/** Validates `rateLimit` (period 1 s..24 h); errors name `field.limit`, `field.period` … */
export function parseRateLimit(input: unknown, field: string): RateLimitDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(rateLimitSchema, input, field);
  const periodMs = durationWithin(parsed.period, `${field}.period`, SECOND, DAY);
  return parsed.key === undefined
    ? { limit: parsed.limit, periodMs }
    : { limit: parsed.limit, periodMs, key: checkExpression(parsed.key, `${field}.key`) };
}

/** The stored state of one rate-limit key: the GCRA theoretical arrival time. */
export interface RateLimitState {
  /** The key's value (for inspection). */
  readonly key: string;
  /** Theoretical arrival time, ms. */
  readonly tat: number;
}

/**
 * GCRA with a burst of `limit`. Each admission costs one emission interval
 * `T = period / limit`; an event is admitted when the key's theoretical arrival time is at most
 * `period - T` ahead of now. So a key quiet for a whole period admits `limit` runs at once, and
 * after that one more run every `T`; skipped events cost nothing. For `limit: 1` this is exactly
 * "one run per period". In any window of length `period` at most `2 × limit - 1` runs start
 * (a full burst at the end of one period and another at the start of the next cannot both happen
 * without the interval between them), and over a long stretch the rate is `limit / period`.
 * One number per key, so a million keys cost a million small records and no scans.
 */
export function admitRateLimit(
  config: RateLimitDefinition,
  state: RateLimitState | undefined,
  now: number,
): { readonly admit: boolean; readonly tat: number } {
  const interval = config.periodMs / config.limit;
  const tolerance = config.periodMs - interval;
  const tat = Math.max(state?.tat ?? now, now);
  // A microsecond of slack absorbs float error from a period that does not divide by the limit.
  if (tat - now > tolerance + 1e-3) return { admit: false, tat: state?.tat ?? now };
  return { admit: true, tat: tat + interval };
}
