import { parseWith } from "@troupe/core";
import { checkExpression, expressionInput } from "./parse-option.js";

/** How long an idempotency key holds: one run per key value per 24 h. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** `idempotency` as users write it: a CEL expression over `event`. */
export const idempotencySchema = expressionInput;

/** Validates `idempotency`; errors name `field`. */
export function parseIdempotency(input: unknown, field: string): string | undefined {
  if (input === undefined) return undefined;
  return checkExpression(parseWith(idempotencySchema, input, field), field);
}

/**
 * The stored record of one idempotency key. It is overwritten by the first event after `exp`,
 * so a key costs one record however often it repeats; `sweep` deletes expired records a page at
 * a time (cleanup.ts).
 */
export interface IdempotencyState {
  /** The key's value. */
  readonly key: string;
  /** The event that took the key. */
  readonly eventId: string;
  /** When the key frees up again, ms. */
  readonly exp: number;
}

/** True when `state` still holds the key at `now`. */
export function idempotencyHeld(state: IdempotencyState | undefined, now: number): boolean {
  return state !== undefined && state.exp > now;
}
