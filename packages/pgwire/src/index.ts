export {
  type AuditedAction,
  type PgAccess,
  type ProtocolAuditEntry,
  type ProtocolPrincipal,
  type StatementGuard,
  tableScope,
} from "./access.js";
export { answerCatalogQuery, isCatalogQuery, selectListNames } from "./catalog-queries.js";
export type { PgServerStats } from "./connection.js";
export { PgError, SQLSTATE, unsupported } from "./pg-error.js";
export { PG_TYPES, type PgTypeName, type SqlValue } from "./pg-types.js";
export {
  type EngineContext,
  type Field,
  type PreparedQuery,
  prepareQueries,
  type QueryResult,
} from "./query-engine.js";
export { ScramExchange, type ScramVerifier, scramVerifier } from "./scram.js";
export { createPgServer, type PgServer, type PgServerOptions } from "./server.js";
export {
  ALL_TABLES,
  type ColumnDef,
  type FunctionRow,
  type Row,
  type ScanHints,
  type TroupeData,
  USER_TABLES,
  type VirtualTable,
} from "./virtual-tables.js";
