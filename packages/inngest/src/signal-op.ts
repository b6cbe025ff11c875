import type { WaitForSignalOp } from "@troupe/flows";
import { parseInngestDuration } from "./durations.js";

/**
 * The SDK's `WaitForSignal` opcode (`step.waitForSignal`): `opts.signal` (or `name`),
 * `opts.timeout`, `opts.conflict` (`"replace"` or `"fail"`; the SDK requires it, absent counts as
 * `"replace"`). Returns the problem, naming the field, when the op is malformed.
 */
export function mapWaitForSignal(
  op: { readonly id: string; readonly name?: string | undefined; readonly opts?: unknown },
  name: string,
  at: string,
): WaitForSignalOp | string {
  const opts = (op.opts ?? {}) as Record<string, unknown>;
  const signal = typeof opts.signal === "string" && opts.signal !== "" ? opts.signal : op.name;
  if (signal === undefined || signal.trim() === "")
    return `${at}.opts.signal: expected the signal's name`;
  const conflict = opts.conflict ?? "replace";
  if (conflict !== "replace" && conflict !== "fail")
    return `${at}.opts.conflict: expected "replace" or "fail", got ${JSON.stringify(conflict)}`;
  return {
    op: "WaitForSignal",
    id: op.id,
    name,
    signal,
    timeoutMs: parseInngestDuration(opts.timeout, `${at}.opts.timeout`),
    onConflict: conflict,
  };
}
