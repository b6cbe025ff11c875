import { NOT_INTEGER, type Reply } from "./reply.js";

/**
 * What one Redis key holds, as its actor's state (plain JSON). `x` is the absolute expiry time
 * in ms since the epoch, when the key has one. Hash fields and set members live in objects
 * without a prototype, so a field named `__proto__` is an ordinary field.
 */
export type KeyState =
  | { t: "none" }
  | { t: "string"; v: string; x?: number }
  | { t: "hash"; v: Record<string, string>; x?: number }
  | { t: "list"; v: string[]; x?: number }
  | { t: "set"; v: Record<string, 1>; x?: number };

/** A key that holds a value. */
export type LiveKeyState = Exclude<KeyState, { t: "none" }>;

/** The state of a key that does not exist. */
export const ABSENT: KeyState = Object.freeze({ t: "none" }) as KeyState;

/** The key as a reader sees it at `now`: an expired key reads as absent. */
export function liveState(state: KeyState, now: number): KeyState {
  return state.t !== "none" && state.x !== undefined && state.x <= now ? ABSENT : state;
}

/** An object without a prototype, for fields and members. */
export function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

/**
 * Gives hash and set objects loaded from JSON a null prototype again (JSON.parse makes plain
 * objects), so later writes of any field name stay data.
 */
export function reviveKeyState(state: KeyState): KeyState {
  if ((state.t === "hash" || state.t === "set") && Object.getPrototypeOf(state.v) !== null) {
    const record = emptyRecord<string | 1>();
    for (const [field, value] of Object.entries(state.v)) record[field] = value;
    (state as { v: Record<string, string | 1> }).v = record;
  }
  return state;
}

/** A cheap structural check of a stored state (the zod schema of the key actor uses it). */
export function isKeyState(value: unknown): value is KeyState {
  if (typeof value !== "object" || value === null) return false;
  const state = value as { t?: unknown; v?: unknown; x?: unknown };
  if (state.x !== undefined && typeof state.x !== "number") return false;
  switch (state.t) {
    case "none":
      return true;
    case "string":
      return typeof state.v === "string";
    case "list":
      return Array.isArray(state.v);
    case "hash":
    case "set":
      return typeof state.v === "object" && state.v !== null && !Array.isArray(state.v);
    default:
      return false;
  }
}

/** The Redis type name of a state (`TYPE`). */
export function typeName(state: KeyState): string {
  return state.t;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parses a Redis integer argument (a signed 64-bit decimal); undefined when it is not one. */
export function parseInt64(text: string): bigint | undefined {
  if (!/^-?(0|[1-9]\d{0,18})$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** True when `value` fits in a signed 64-bit integer. */
export function inInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** An integer reply: a number when it is exact, a bigint beyond 2^53. */
export function integerReply(value: bigint): Reply {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Parses an integer argument small enough for a number (counts, indexes, times). */
export function parseSafeInt(text: string): number | undefined {
  const value = parseInt64(text);
  if (value === undefined) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

export { NOT_INTEGER };
