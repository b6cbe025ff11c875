import { invalidArgument, parseDuration } from "@troupe/core";

const ONE_YEAR_MS = 366 * 86_400_000;

/**
 * Parses an Inngest time string (`"300ms"`, `"1h30m"`, `"3d"`, `"1w"`; the SDKs re-format user
 * input this way) into ms. An empty string is 0: v4 turns an unparsable `step.sleep` duration
 * into `""`, and the Inngest server treats that as "now". Capped at one year, as Inngest does.
 */
export function parseInngestDuration(text: unknown, field: string): number {
  if (text === "" || text === undefined || text === null) return 0;
  if (typeof text === "number") return Math.min(parseDuration(text, field), ONE_YEAR_MS);
  if (typeof text !== "string") throw invalidArgument(field, "expected a duration string");
  return Math.min(parseDuration(text, field), ONE_YEAR_MS);
}

/**
 * A sleep's wake time from the op's `opts.duration ?? name`: either an ISO date
 * (`step.sleepUntil`) or a duration from `now`.
 */
export function sleepUntil(value: unknown, now: number, field: string): number {
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const at = Date.parse(value);
    if (!Number.isFinite(at)) throw invalidArgument(field, `is not a valid date: ${value}`);
    return at;
  }
  return now + parseInngestDuration(value, field);
}
