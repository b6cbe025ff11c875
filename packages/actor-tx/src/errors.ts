import { TroupeError } from "@troupe/core";

/**
 * The codes this package throws (each also documented in the README):
 * `TX_LOCKED`, `TX_BUSY`, `TX_CONFLICT`, `TX_ABORTED`, `TX_TIMEOUT`, `TX_OUTCOME_UNKNOWN`,
 * `TX_UNKNOWN_PARTICIPANT`, `TX_NOT_TRANSACTIONAL`, `TX_REENTRANT`, `DEADLOCK`, `LOCK_TIMEOUT`, `LOCK_NOT_HELD`.
 */
export type ActorTxErrorCode =
  | "TX_LOCKED"
  | "TX_BUSY"
  | "TX_CONFLICT"
  | "TX_ABORTED"
  | "TX_TIMEOUT"
  | "TX_OUTCOME_UNKNOWN"
  | "TX_UNKNOWN_PARTICIPANT"
  | "TX_NOT_TRANSACTIONAL"
  | "TX_REENTRANT"
  | "INVALID_ARGUMENT"
  | "DEADLOCK"
  | "LOCK_TIMEOUT"
  | "LOCK_NOT_HELD";

/** A TroupeError with one of this package's codes. */
export function txError(
  code: ActorTxErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): TroupeError {
  return new TroupeError(code, message, cause === undefined ? { details } : { details, cause });
}
