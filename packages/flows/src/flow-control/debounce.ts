import { parseWith, type Store } from "@troupe/core";
import { z } from "zod";
import {
  checkExpression,
  durationInput,
  durationWithin,
  expressionInput,
  listKeyedStates,
} from "./parse-option.js";

const SECOND = 1000;
const WEEK = 7 * 86_400_000;

/** `debounce` as users write it. */
export const debounceSchema = z.strictObject({
  period: durationInput,
  key: expressionInput.optional(),
  timeout: durationInput.optional(),
  collect: z.boolean().optional(),
});

/**
 * Most events a collecting debounce hands to one run: the event that reaches it closes the
 * debounce at once (the run starts then), so no event is dropped and the next one opens a new
 * debounce.
 */
export const DEBOUNCE_COLLECT_MAX = 100;

/** `debounce` as `FunctionConfig` takes it. */
export type DebounceOption = z.input<typeof debounceSchema>;

/** `debounce` in a function definition. */
export interface DebounceDefinition {
  readonly periodMs: number;
  readonly key?: string;
  readonly timeoutMs?: number;
  /**
   * Troupe's extension: the run gets every event the debounce absorbed (`events`, in arrival
   * order, at most {@link DEBOUNCE_COLLECT_MAX}), not only the latest.
   */
  readonly collect?: true;
}

/** Validates `debounce` (period and timeout 1 s..7 d); errors name `field.period` … */
export function parseDebounce(input: unknown, field: string): DebounceDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(debounceSchema, input, field);
  const periodMs = durationWithin(parsed.period, `${field}.period`, SECOND, WEEK);
  const timeoutMs =
    parsed.timeout === undefined
      ? undefined
      : durationWithin(parsed.timeout, `${field}.timeout`, SECOND, WEEK);
  if (parsed.key !== undefined) checkExpression(parsed.key, `${field}.key`);
  return {
    periodMs,
    ...(parsed.key === undefined ? {} : { key: parsed.key }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(parsed.collect === true ? { collect: true as const } : {}),
  };
}

/**
 * One pending debounce (a key that saw events and has not run yet). `g` names this debounce
 * instance (the id of its first event): the queue item carries it, so an item left from an
 * instance that already ran finds another `g` (or nothing) and does nothing.
 */
export interface DebounceState {
  /** The key's value. */
  readonly key: string;
  /** The instance: the id of its first event. */
  readonly g: string;
  /** The latest event, which the run will get. */
  eventId: string;
  /** When the first event arrived, ms. */
  readonly first: number;
  /** When the run starts unless another event arrives first, ms. */
  deadline: number;
  /** Events absorbed so far (the run gets only the latest, unless collecting). */
  count: number;
  /** With `collect`: the ids of the events absorbed so far, oldest first. */
  collected?: string[];
}

/** The events a pending debounce's run gets. */
export function debounceEvents(state: DebounceState): string[] {
  return state.collected ?? [state.eventId];
}

/**
 * The deadline after an event at `now`: a quiet `period` after it, but never later than `timeout`
 * after the instance's first event. It only moves forward, so the instance's one queue item
 * (enqueued for the first deadline) always fires no later than the real deadline and re-arms
 * itself when the deadline has moved.
 */
export function debounceDeadline(config: DebounceDefinition, first: number, now: number): number {
  const quiet = now + config.periodMs;
  return config.timeoutMs === undefined ? quiet : Math.min(quiet, first + config.timeoutMs);
}

/** A pending debounce as `getFlowControlState` shows it. */
export interface PendingDebounce {
  /** The key's value ("" without a key). */
  readonly key: string;
  /** The event the run will get if nothing newer arrives. */
  readonly eventId: string;
  /** When the first event of this debounce arrived, ms. */
  readonly firstAt: number;
  /** When the run starts unless another event arrives, ms. */
  readonly runAt: number;
  /** Events absorbed so far. */
  readonly events: number;
}

/** Pending debounces of a function, at most `limit`, in key-hash order. */
export async function listPendingDebounces(
  store: Store,
  prefix: string,
  functionId: string,
  limit = 1000,
): Promise<PendingDebounce[]> {
  return listKeyedStates(store, prefix, "d", functionId, limit, (state: DebounceState) => ({
    key: state.key,
    eventId: state.eventId,
    firstAt: state.first,
    runAt: state.deadline,
    events: state.count,
  }));
}
