/**
 * An error answered to the client as a PostgreSQL ErrorResponse: a SQLSTATE code and a message
 * that names the construct or field at fault.
 */
export class PgError extends Error {
  override readonly name = "PgError";
  constructor(
    /** The SQLSTATE, e.g. `42P01` (undefined table) or `0A000` (feature not supported). */
    readonly code: string,
    message: string,
    /** `ERROR` (default) or `FATAL` (the connection closes after it). */
    readonly severity: "ERROR" | "FATAL" = "ERROR",
  ) {
    super(message);
  }
}

/** SQLSTATE codes Troupe answers. */
export const SQLSTATE = {
  syntaxError: "42601",
  undefinedTable: "42P01",
  undefinedColumn: "42703",
  undefinedFunction: "42883",
  featureNotSupported: "0A000",
  invalidTextRepresentation: "22P02",
  invalidParameterValue: "22023",
  datatypeMismatch: "42804",
  groupingError: "42803",
  queryCanceled: "57014",
  invalidPassword: "28P01",
  insufficientPrivilege: "42501",
  invalidAuthorization: "28000",
  protocolViolation: "08P01",
  programLimitExceeded: "54000",
  tooManyConnections: "53300",
  invalidSqlStatementName: "26000",
  invalidCursorName: "34000",
  inFailedTransaction: "25P02",
  externalRoutineException: "38000",
  internalError: "XX000",
} as const;

/** A `0A000` error naming the unsupported construct. */
export function unsupported(construct: string): PgError {
  return new PgError(SQLSTATE.featureNotSupported, `${construct} is not supported by Troupe`);
}
