import { type Duration, invalidArgument, parseDuration, parseWith } from "@troupe/core";
import { z } from "zod";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** How long finished runs and stored events are kept, and how the sweeper paces itself. */
export interface RetentionOptions {
  /**
   * How long an event is kept after it was stored (with its by-name index entry and its skip
   * records). Default 7 days; at least 1 hour. Keep it longer than any debounce period of your
   * functions: a debounce whose held event expired starts no run.
   */
  readonly events?: Duration;
  /**
   * How long a run is kept after it finished (with its step outputs, its listing index entries
   * and its runs-by-event entries). Running, queued, sleeping and waiting runs are never deleted.
   * Default 7 days; at least 1 hour.
   */
  readonly runs?: Duration;
  /** Expired records handled per sweeper pass (one list, one read, a few commits). Default 500. */
  readonly batchSize?: number;
  /** Passes per sweep at most, yielding between passes. Default 40 (20 000 records). */
  readonly maxPassesPerSweep?: number;
}

/** Retention as the engine uses it (every field resolved). */
export interface RetentionSettings {
  readonly eventsMs: number;
  readonly runsMs: number;
  readonly batchSize: number;
  readonly maxPassesPerSweep: number;
}

/** The defaults: runs and events kept 7 days. */
export const DEFAULT_RETENTION: RetentionSettings = {
  eventsMs: 7 * DAY,
  runsMs: 7 * DAY,
  batchSize: 500,
  maxPassesPerSweep: 40,
};

const duration = z.union([z.number(), z.string()]);

/** `retention` as users write it. */
export const retentionSchema = z.strictObject({
  events: duration.optional(),
  runs: duration.optional(),
  batchSize: z.number().int().min(1).max(5000).optional(),
  maxPassesPerSweep: z.number().int().min(1).max(10_000).optional(),
});

const MIN_TTL_MS = HOUR;
const MAX_TTL_MS = 3650 * DAY;

function ttl(input: Duration | undefined, fallback: number, field: string): number {
  if (input === undefined) return fallback;
  const ms = parseDuration(input, field);
  if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
    throw invalidArgument(field, `expected a duration between 1h and 3650d, got ${String(input)}`);
  }
  return ms;
}

/**
 * Validates `retention` (errors name `field.events`, `field.runs` …); `false` turns retention
 * off (nothing written to the expiry index, nothing deleted by age), undefined takes the defaults.
 */
export function resolveRetention(
  input: RetentionOptions | false | undefined,
  field: string,
): RetentionSettings | undefined {
  if (input === false) return undefined;
  if (input === undefined) return DEFAULT_RETENTION;
  const parsed = parseWith(retentionSchema, input, field);
  return {
    eventsMs: ttl(parsed.events, DEFAULT_RETENTION.eventsMs, `${field}.events`),
    runsMs: ttl(parsed.runs, DEFAULT_RETENTION.runsMs, `${field}.runs`),
    batchSize: parsed.batchSize ?? DEFAULT_RETENTION.batchSize,
    maxPassesPerSweep: parsed.maxPassesPerSweep ?? DEFAULT_RETENTION.maxPassesPerSweep,
  };
}
