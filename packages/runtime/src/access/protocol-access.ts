import { secretIn } from "@troupe/core";
import type { PgAccess } from "@troupe/pgwire";
import type { ProtocolAuditEntry, ProtocolPrincipal, RespAccess } from "@troupe/resp";
import type { AuditLog } from "./audit-log.js";
import type { TokenRegistry } from "./token-registry.js";

/** Options of {@link createProtocolAccess}. */
export interface ProtocolAccessOptions {
  /** `auth.token`: holds every scope. */
  readonly rootToken: string;
  readonly registry: TokenRegistry;
  readonly audit: AuditLog;
  /** Record event sends (`EVENT.SEND`, `INSERT INTO events`) too (`audit.events`). */
  readonly events: boolean;
  /** Record RESP key writes (`SET`, `DEL`…) too (`resp.auditWrites`). */
  readonly keyWrites: boolean;
  /** How long a connection uses a checked token before checking it again, in ms. */
  readonly recheckMs: number;
}

const EVENT_SENDS = new Set(["RESP EVENT.SEND", "PG INSERT INTO events"]);
// What always changes something worth a record: actor calls, whatever the protocol.
const ACTOR_CALLS = new Set(["RESP ACTOR.CALL", "PG troupe.call_actor"]);

/**
 * The scoped-token access of the RESP and PostgreSQL-protocol servers: the same tokens, scopes
 * and audit log as the HTTP API. A password is the root token or a live scoped token; refusals,
 * actor calls and (as configured) event sends and key writes are appended to the audit log.
 */
export function createProtocolAccess(options: ProtocolAccessOptions): RespAccess & PgAccess {
  const root = [options.rootToken];
  const wanted = (entry: ProtocolAuditEntry) =>
    entry.status >= 400 ||
    ACTOR_CALLS.has(entry.operation) ||
    (EVENT_SENDS.has(entry.operation) ? options.events : options.keyWrites);
  return {
    recheckMs: options.recheckMs,
    async authenticate(password): Promise<ProtocolPrincipal | undefined> {
      if (secretIn(password, root)) return { name: "root", scopes: ["admin"] };
      const token = await options.registry.verify(password);
      return token && { name: token.name, tokenId: token.id, scopes: token.scopes };
    },
    audit(entry) {
      if (!wanted(entry)) return;
      // Not awaited: the command's reply never waits for the record (a failed write is logged).
      void options.audit.append({
        token: entry.principal?.name ?? "unauthenticated",
        tokenId: entry.principal?.tokenId,
        source: entry.source,
        operation: entry.operation,
        target: entry.target,
        status: entry.status,
      });
    },
  };
}
