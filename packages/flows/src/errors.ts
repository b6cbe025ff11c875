import { type Duration, parseDuration, TroupeError } from "@troupe/core";

const nonRetriableMarker = Symbol.for("troupe.flows.non-retriable");
const retryAfterMarker = Symbol.for("troupe.flows.retry-after");

/** An error as stored in run history and handed to drivers: plain JSON. */
export interface SerializedError {
  /** The error's class name (`Error`, `NonRetriableError`, …). */
  readonly name: string;
  /** The error's message. */
  readonly message: string;
  /** The stack trace, when known. */
  readonly stack?: string;
}

/**
 * Throw this from a step or handler to fail at once, without further retries. `isInstance`
 * works across duplicate copies of this package.
 */
export class NonRetriableError extends Error {
  /** Marks the class across package copies. */
  readonly [nonRetriableMarker] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NonRetriableError";
  }

  /** True when `error` is a NonRetriableError from any copy of this package. */
  static isInstance(error: unknown): error is NonRetriableError {
    return (
      typeof error === "object" &&
      error !== null &&
      (error as Record<symbol, unknown>)[nonRetriableMarker] === true
    );
  }
}

/**
 * Throw this from a step or handler to retry no sooner than `retryAfter` (a duration such as
 * `"30s"`, milliseconds, or a Date), instead of the usual backoff. It still counts as an attempt.
 */
export class RetryAfterError extends Error {
  /** Marks the class across package copies. */
  readonly [retryAfterMarker] = true;
  /** The wait before the next attempt: ms, a duration string, or an absolute Date. */
  readonly retryAfter: Duration | Date;

  constructor(message: string, retryAfter: Duration | Date, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RetryAfterError";
    if (!(retryAfter instanceof Date)) parseDuration(retryAfter, "retryAfter");
    this.retryAfter = retryAfter;
  }

  /** The time of the next attempt, given the current time. */
  retryAt(now: number): number {
    return this.retryAfter instanceof Date
      ? this.retryAfter.getTime()
      : now + parseDuration(this.retryAfter, "retryAfter");
  }

  /** True when `error` is a RetryAfterError from any copy of this package. */
  static isInstance(error: unknown): error is RetryAfterError {
    return (
      typeof error === "object" &&
      error !== null &&
      (error as Record<symbol, unknown>)[retryAfterMarker] === true
    );
  }
}

/**
 * What `step.run` (or `step.invoke`) throws inside a handler when the step failed for good: its
 * retries were exhausted or it threw a NonRetriableError. Catch it to recover; otherwise the run
 * fails with it.
 */
export class StepError extends Error {
  /** The user-facing id of the failed step. */
  readonly stepId: string;
  /** The failure as stored. */
  readonly error: SerializedError;

  constructor(stepId: string, error: SerializedError) {
    super(`step ${JSON.stringify(stepId)} failed: ${error.message}`);
    this.name = "StepError";
    this.stepId = stepId;
    this.error = error;
  }
}

/** Turns anything thrown into a {@link SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return error.stack === undefined
      ? { name: error.name, message: error.message }
      : { name: error.name, message: error.message, stack: error.stack };
  }
  if (typeof error === "object" && error !== null) {
    const record = error as Record<string, unknown>;
    if (typeof record.message === "string") {
      return {
        name: typeof record.name === "string" ? record.name : "Error",
        message: record.message,
      };
    }
  }
  return { name: "Error", message: String(error) };
}

/** A flows error with a stable code (`FLOWS_…`), for engine misuse and invalid definitions. */
export function flowsError(code: string, message: string, details: Record<string, unknown> = {}) {
  return new TroupeError(code, message, { details });
}
