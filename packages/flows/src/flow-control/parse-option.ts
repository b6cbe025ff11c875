import {
  createJsonCodec,
  type Duration,
  formatDuration,
  invalidArgument,
  parseDuration,
  type Store,
} from "@troupe/core";
import { z } from "zod";
import type { FlowEvent } from "../event.js";
import { compileExpression } from "../expression.js";
import { stepHash } from "../hash.js";

/** A duration as users write it: ms as a number, or text such as `"10s"` or `"1h30m"`. */
export const durationInput = z.union([z.number(), z.string()]);

/** A CEL expression as users write it (checked by {@link checkExpression} after the shape). */
export const expressionInput = z.string().min(1).max(4096);

/** Parses a duration and checks it lies in `[minMs, maxMs]`. */
export function durationWithin(value: Duration, field: string, minMs: number, maxMs: number) {
  const ms = parseDuration(value, field);
  if (ms < minMs || ms > maxMs) {
    throw invalidArgument(
      field,
      `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}, got ${formatDuration(ms)}`,
    );
  }
  return ms;
}

/** Compiles a CEL expression once so a bad one fails at definition time, naming `field`. */
export function checkExpression(source: string, field: string): string {
  compileExpression(source, field);
  return source;
}

/**
 * The value of a key expression for `event`, as text. No expression: the empty key (one shared
 * bucket). An expression that fails to evaluate (a missing field) also yields the empty key, as a
 * trigger condition that fails yields "no match": the event is limited with the others rather
 * than rejected.
 */
export function evaluateKey(source: string | undefined, event: FlowEvent): string {
  if (source === undefined) return "";
  let value: unknown;
  try {
    value = compileExpression(source, "key")({ event });
  } catch {
    return "";
  }
  if (typeof value === "string") return value;
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean")
    return String(value);
  if (value === null || value === undefined) return "";
  try {
    return JSON.stringify(value, (_, inner: unknown) =>
      typeof inner === "bigint" ? inner.toString() : inner,
    );
  } catch {
    return String(value);
  }
}

/** The Store key holding per-key state `kind` of a function: key values are hashed to bound length. */
export function stateKey(prefix: string, kind: string, functionId: string, keyValue: string) {
  return `${statePrefix(prefix, kind, functionId)}${keyHash(keyValue)}`;
}

/** The Store prefix of all per-key state `kind` of a function. */
export function statePrefix(prefix: string, kind: string, functionId: string) {
  return `${prefix}fc/${kind}/${encodeURIComponent(functionId)}/`;
}

const stateCodec = createJsonCodec<unknown>();

/**
 * The keyed state records of one option of a function (`kind` "d" for debounces, "b" for
 * batches …), at most `limit`, in key-hash order, each decoded and mapped for a reader.
 */
export async function listKeyedStates<State, View>(
  store: Store,
  prefix: string,
  kind: string,
  functionId: string,
  limit: number,
  view: (state: State) => View,
): Promise<View[]> {
  if (!Number.isInteger(limit) || limit < 1)
    throw invalidArgument("limit", "expected a positive integer");
  const entries = await store.list({ prefix: statePrefix(prefix, kind, functionId), limit });
  return entries.map((entry) => view(stateCodec.decode(entry.value) as State));
}

/** A fixed-length digest of a key value (values may be long or contain any character). */
export function keyHash(keyValue: string): string {
  return stepHash(keyValue, 0).slice(0, 32);
}
