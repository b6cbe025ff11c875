export {
  type AccessControlOptions,
  accessControl,
  type Principal,
  principalOf,
  principalResolver,
} from "./access-control.js";
export { createAccessRoutes } from "./access-routes.js";
export { type AuditEntry, type AuditLog, type AuditQuery, createAuditLog } from "./audit-log.js";
export { auditTrail, operationOf } from "./audit-trail.js";
export { requiredScope } from "./route-scopes.js";
export { grants, isScope, SCOPES, type Scope } from "./scopes.js";
export { createTokenRegistry, type TokenInfo, type TokenRegistry } from "./token-registry.js";
