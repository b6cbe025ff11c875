/**
 * The codes every Troupe package uses. A code is stable across releases: match on it, not on
 * messages. Packages may add their own codes (any string), documented where they are thrown.
 */
export type TroupeErrorCode =
  | "INVALID_ARGUMENT"
  | "STORE_CONFLICT"
  | "LEASE_LOST"
  | "NOT_FOUND"
  | "CLOSED"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "UNKNOWN_NODE"
  | "REMOTE_ERROR"
  | "INTERNAL";

const MARKER = "troupe.error";
const marker = Symbol.for(MARKER);

/** Options for {@link TroupeError}. */
export interface TroupeErrorOptions {
  /** The underlying error, when this one wraps another. */
  readonly cause?: unknown;
  /** Structured facts about the failure (the offending field, key, limit, …). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The base of every error Troupe throws on purpose. It carries a stable `code`, a message a user
 * can act on, and `cause` when it wraps another error. `TroupeError.isInstance` works across
 * duplicate copies of this package, where `instanceof` would not.
 */
export class TroupeError extends Error {
  /** Marks Troupe errors so `isInstance` recognises them across package copies. */
  readonly [marker]: true = true;
  /** The stable machine-readable code. */
  readonly code: TroupeErrorCode | (string & {});
  /** Structured facts about the failure. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: TroupeErrorCode | (string & {}),
    message: string,
    options: TroupeErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TroupeError";
    this.code = code;
    this.details = options.details ?? {};
  }

  /** True when `error` is a TroupeError (from any copy of this package), optionally with `code`. */
  static isInstance(error: unknown, code?: TroupeErrorCode | (string & {})): error is TroupeError {
    if (typeof error !== "object" || error === null) return false;
    if ((error as Record<symbol, unknown>)[marker] !== true) return false;
    return code === undefined || (error as TroupeError).code === code;
  }
}

/** Bad input: the message names the field (`field`) and what was wrong with it. */
export function invalidArgument(
  field: string,
  problem: string,
  details: Record<string, unknown> = {},
): TroupeError {
  return new TroupeError("INVALID_ARGUMENT", `${field}: ${problem}`, {
    details: { field, ...details },
  });
}

/** What a guard expected of a key: a version, or that the key is absent. */
export type Expectation = number | "absent";

/**
 * A guarded `Store.commit` found a key in another state than expected. Nothing of that commit was
 * written. `key`, `expected` and `actual` say which guard failed.
 */
export class StoreConflictError extends TroupeError {
  /** The key whose guard failed. */
  readonly key: string;
  /** What the guard expected. */
  readonly expected: Expectation;
  /** What the store held: the key's version, or "absent". */
  readonly actual: Expectation;

  constructor(key: string, expected: Expectation, actual: Expectation) {
    super(
      "STORE_CONFLICT",
      `commit aborted: key ${JSON.stringify(key)} expected ${describeExpectation(expected)} but is ${describeExpectation(actual)}`,
      { details: { key, expected, actual } },
    );
    this.name = "StoreConflictError";
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }

  /** True when `error` is a store conflict, from any copy of this package. */
  static override isInstance(error: unknown): error is StoreConflictError {
    return TroupeError.isInstance(error, "STORE_CONFLICT");
  }
}

function describeExpectation(expectation: Expectation): string {
  return expectation === "absent" ? "absent" : `at version ${expectation}`;
}

/**
 * The lease named in `ack`, `retry` or `extend` is no longer held: the item was claimed again by
 * someone else after the lease lapsed, or it was acknowledged or removed.
 */
export function leaseLost(queue: string, id: string): TroupeError {
  return new TroupeError(
    "LEASE_LOST",
    `queue ${JSON.stringify(queue)}: the lease on item ${JSON.stringify(id)} is no longer held (it lapsed and was claimed again, or the item was acknowledged or removed)`,
    { details: { queue, id } },
  );
}

/** An operation on something already closed. */
export function closedError(what: string): TroupeError {
  return new TroupeError("CLOSED", `${what} is closed`, { details: { what } });
}
