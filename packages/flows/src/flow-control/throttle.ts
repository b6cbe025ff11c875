import { createJsonCodec, parseWith, type StoreOp } from "@troupe/core";
import { z } from "zod";
import type { FlowEvent } from "../event.js";
import {
  checkExpression,
  durationInput,
  durationWithin,
  evaluateKey,
  expressionInput,
  stateKey,
} from "./parse-option.js";

const SECOND = 1000;
const WEEK = 7 * 86_400_000;

/** `throttle` as users write it: at most `limit` run starts per `period` (+ `burst`), per key. */
export const throttleSchema = z.strictObject({
  limit: z.number().int().min(1).max(100_000),
  period: durationInput,
  burst: z.number().int().min(0).max(100_000).optional(),
  key: expressionInput.optional(),
});

/** `throttle` as `FunctionConfig` takes it. */
export type ThrottleOption = z.input<typeof throttleSchema>;

/** `throttle` in a function definition. */
export interface ThrottleDefinition {
  readonly limit: number;
  readonly periodMs: number;
  readonly burst: number;
  readonly key?: string;
}

/** Validates `throttle` (period 1 s..7 d); errors name `field.limit`, `field.period` … */
export function parseThrottle(input: unknown, field: string): ThrottleDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(throttleSchema, input, field);
  const periodMs = durationWithin(parsed.period, `${field}.period`, SECOND, WEEK);
  const base = { limit: parsed.limit, periodMs, burst: parsed.burst ?? 0 };
  return parsed.key === undefined
    ? base
    : { ...base, key: checkExpression(parsed.key, `${field}.key`) };
}

/** The stored state of one throttle key. */
export interface ThrottleState {
  /** The key's value (for inspection). */
  readonly v: string;
  /** GCRA theoretical arrival time, ms. */
  readonly tat: number;
}

/**
 * GCRA on run starts, queueing instead of dropping. The emission interval is
 * `T = period / limit` and the tolerance `τ = T × (limit + burst − 1)`, so an idle key starts
 * `limit + burst` runs at once and then one every `T`. Each run, in the order the worker first
 * claims it, is given the start time `max(now, TAT − τ)` and pushes the key's TAT to
 * `max(TAT, now) + T`. A run whose start time is in the future is not dropped: its start item is
 * put back in the queue, available exactly then.
 */
export function throttleStart(
  config: ThrottleDefinition,
  state: ThrottleState | undefined,
  now: number,
): { readonly start: number; readonly tat: number } {
  const interval = config.periodMs / config.limit;
  const tolerance = interval * (config.limit + config.burst - 1);
  const tat = Math.max(state?.tat ?? now, now);
  return { start: Math.max(now, Math.ceil(tat - tolerance - 1e-6)), tat: tat + interval };
}

/** Runs waiting for their throttled start at `now`, derived from the TAT (no counter to keep). */
export function throttledCount(config: ThrottleDefinition, state: ThrottleState, now: number) {
  const interval = config.periodMs / config.limit;
  const tolerance = interval * (config.limit + config.burst - 1);
  // The last admitted run starts at TAT − T − τ; runs start every T before it.
  const lastStart = state.tat - interval - tolerance;
  if (lastStart <= now) return 0;
  return Math.ceil((lastStart - now) / interval - 1e-9);
}

const codec = createJsonCodec<unknown>();

/** The Store key of a function's throttle state for `event`, and the key value. */
export function throttleKey(
  prefix: string,
  functionId: string,
  config: ThrottleDefinition,
  event: FlowEvent | undefined,
) {
  const value = event ? evaluateKey(config.key, event) : "";
  return { key: stateKey(prefix, "t", functionId, value), value: value.slice(0, 200) };
}

/**
 * Reads nothing, computes a run's throttled start from the stored state: returns the start and
 * the guarded op that records the new TAT (to commit together with the run).
 */
export function throttleOp(
  config: ThrottleDefinition,
  key: { key: string; value: string },
  stored: { value: Uint8Array; version: number } | undefined,
  now: number,
): { start: number; op: StoreOp } {
  const state = stored ? (codec.decode(stored.value) as ThrottleState) : undefined;
  const next = throttleStart(config, state, now);
  const value: ThrottleState = { v: key.value, tat: next.tat };
  return {
    start: next.start,
    op: {
      type: "set",
      key: key.key,
      value: codec.encode(value),
      expect: stored ? stored.version : "absent",
    },
  };
}

/** Decodes a stored throttle state. */
export function decodeThrottle(value: Uint8Array): ThrottleState {
  return codec.decode(value) as ThrottleState;
}
