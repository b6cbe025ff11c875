import { TroupeError } from "@troupe/core";

/** Where a bad input was found: every part that is known is named in the message. */
export interface StatsErrorLocation {
  /** The file the input came from. */
  readonly file?: string;
  /** The subsystem that produced it. */
  readonly system?: string;
  /** The dimension it concerns. */
  readonly dimension?: string;
  /** The field, as a path (`primary[2].value`). */
  readonly field: string;
}

/**
 * A rejected input (rule R0): code `INVALID_ARGUMENT`, a message naming the file, subsystem,
 * dimension and field when known, and the same facts in `details`.
 */
export function statsInputError(location: StatsErrorLocation, problem: string): TroupeError {
  const parts: string[] = [];
  if (location.file !== undefined) parts.push(`file ${location.file}`);
  if (location.system !== undefined) parts.push(`subsystem ${JSON.stringify(location.system)}`);
  if (location.dimension !== undefined) {
    parts.push(`dimension ${JSON.stringify(location.dimension)}`);
  }
  parts.push(`field ${location.field}`);
  return new TroupeError("INVALID_ARGUMENT", `${parts.join(", ")}: ${problem}`, {
    details: { ...location, problem },
  });
}

/** Describes a value for an error message without dumping large structures. */
export function describeValue(value: unknown): string {
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}
