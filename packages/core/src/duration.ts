import parse from "parse-duration";
import { invalidArgument } from "./errors.js";

/** A duration: milliseconds as a number, or text such as `"250ms"`, `"1h30m"`, `"2d"`. */
export type Duration = number | string;

const NUMBER_ONLY = /^\s*\d+(\.\d+)?\s*$/;

/**
 * Parses a duration into whole milliseconds. Accepts a non-negative finite number (ms) or a
 * string of value-unit pairs (`ms`, `s`, `m`, `h`, `d`, `w`, spelled out or short: `"1h30m"`,
 * `"90 seconds"`). A bare number in a string is read as milliseconds. Throws INVALID_ARGUMENT
 * naming `field` for anything else, including negative durations.
 */
export function parseDuration(input: Duration, field = "duration"): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) {
      throw invalidArgument(field, `expected a non-negative number of milliseconds, got ${input}`);
    }
    return Math.round(input);
  }
  if (typeof input !== "string" || input.trim() === "") {
    throw invalidArgument(
      field,
      `expected a duration such as "250ms" or "1h30m", got ${JSON.stringify(input)}`,
    );
  }
  if (NUMBER_ONLY.test(input)) return Math.round(Number(input));
  if (!/^[\s\d.a-zA-Zµ]+$/.test(input) || !/\d/.test(input)) {
    throw invalidArgument(
      field,
      `expected a duration such as "250ms" or "1h30m", got ${JSON.stringify(input)}`,
    );
  }
  const ms = parse(input);
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw invalidArgument(
      field,
      `expected a duration such as "250ms" or "1h30m", got ${JSON.stringify(input)}`,
    );
  }
  return Math.round(ms);
}

/** Formats milliseconds compactly (`1h30m`, `250ms`), for logs and tables. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return rest > 0 ? `${out}${rest}ms` : out;
}
