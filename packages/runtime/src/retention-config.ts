import { parseDuration } from "@troupe/core";
import type { RetentionOptions } from "@troupe/flows";
import { z } from "zod";

const HOUR = 3_600_000;
const MAX_MS = 3650 * 24 * HOUR;

const ttl = z
  .union([z.number(), z.string()], { error: 'expected a duration such as "7d" or "36h"' })
  .superRefine((value, context) => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch {
      context.addIssue({ code: "custom", message: 'expected a duration such as "7d" or "36h"' });
      return;
    }
    if (ms < HOUR || ms > MAX_MS) {
      context.addIssue({ code: "custom", message: "expected a duration between 1h and 3650d" });
    }
  });

/**
 * The `retention` section of the runtime config, handed to the flows engine: how long finished
 * runs and stored events are kept (default 7 days each); `enabled: false` keeps everything.
 * Dedupe ids, rate-limit, idempotency and throttle keys go when their own window ends.
 */
export const retentionConfigSchema = z.strictObject({
  /** Delete expired runs and events. Default true. */
  enabled: z.boolean({ error: "expected true or false" }).optional(),
  /** How long an event is kept after it was stored. Default 7d; at least 1h. */
  events: ttl.optional(),
  /** How long a run is kept after it finished (unfinished runs are never deleted). Default 7d. */
  runs: ttl.optional(),
  /** Expired records per sweeper pass. Default 500. */
  batchSize: z.number().int().min(1).max(5000).optional(),
  /** Sweeper passes per sweep at most. Default 40. */
  maxPassesPerSweep: z.number().int().min(1).max(10_000).optional(),
});

/** The flows engine's `retention` option from the config section. */
export function flowsRetention(
  section: z.output<typeof retentionConfigSchema>,
): RetentionOptions | false {
  if (section.enabled === false) return false;
  const { enabled: _enabled, ...rest } = section;
  return Object.fromEntries(
    Object.entries(rest).filter(([, value]) => value !== undefined),
  ) as RetentionOptions;
}
