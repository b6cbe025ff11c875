import { PgError, SQLSTATE } from "./pg-error.js";

/** Who holds a session's token, as the server's {@link PgAccess} resolved it. */
export interface ProtocolPrincipal {
  /** The token's name (`root` for the runtime's `auth.token`), shown in the audit log. */
  readonly name: string;
  readonly tokenId?: string | undefined;
  /** What it may do; `admin` holds every scope. */
  readonly scopes: readonly string[];
}

/** One audited statement. */
export interface ProtocolAuditEntry {
  /** Undefined for a refused password. */
  readonly principal: ProtocolPrincipal | undefined;
  /** The client's address and port. */
  readonly source: string;
  /** `PG <what>`: `PG LOGIN`, `PG INSERT INTO events`, `PG troupe.call_actor`. */
  readonly operation: string;
  /** What it acted on: the event names or the actor (`type/key/action`). */
  readonly target: string;
  /** In the audit log's HTTP vocabulary: 200 done, 401 bad password, 403 missing scope, 400/500 failed. */
  readonly status: number;
}

/**
 * Scoped tokens for the PostgreSQL-protocol server: the password (asked in clear text, so use
 * it on a private network or loopback) is checked by `authenticate`, every statement needs the
 * scope of what it reads or does, and mutating statements and refusals are handed to `audit`.
 */
export interface PgAccess {
  /** The principal `password` stands for, or undefined to refuse it. */
  authenticate(password: string, user: string | undefined): Promise<ProtocolPrincipal | undefined>;
  /** Receives refusals and the statements that change something. Must not throw. */
  audit?(entry: ProtocolAuditEntry): void;
  /**
   * How long a session uses a checked token before `authenticate` runs again, in ms: with the
   * token cache, the bound on how late a revocation reaches an open session. Default 100.
   */
  readonly recheckMs?: number;
}

/** What a statement does, for the audit log, when it changes something. */
export interface AuditedAction {
  readonly operation: string;
  readonly target: string;
}

/** What the engine asks of the session before it reads or changes anything. */
export interface StatementGuard {
  /**
   * Resolves when the session's token (checked again when stale) holds `scope`; otherwise
   * rejects with 42501 naming the scope (and audits the refusal of `action`), or 28000 (FATAL)
   * once the token is no longer valid.
   */
  require(scope: string, action?: AuditedAction): Promise<void>;
  /** Records a mutating statement's outcome. */
  record(action: AuditedAction, status: number): void;
}

/** The scope reading a table needs; catalog tables need none. */
export function tableScope(table: string): string | undefined {
  switch (table) {
    case "runs":
    case "steps":
    case "events":
    case "functions":
      return "runs:read";
    case "actors":
      return "actors:read";
    case "stats_snapshots":
      return "stats:read";
    default:
      return undefined;
  }
}

/** The guard of one authenticated session. */
export class SessionGuard implements StatementGuard {
  private verifiedAt: number;

  constructor(
    private readonly access: PgAccess,
    private principal: ProtocolPrincipal | undefined,
    private readonly credentials: { readonly password: string; readonly user: string | undefined },
    readonly source: string,
    private readonly now: () => number,
  ) {
    this.verifiedAt = now();
  }

  async require(scope: string, action?: AuditedAction): Promise<void> {
    if (this.now() - this.verifiedAt >= (this.access.recheckMs ?? 100)) {
      this.principal = await this.access
        .authenticate(this.credentials.password, this.credentials.user)
        .catch(() => undefined);
      this.verifiedAt = this.now();
    }
    const principal = this.principal;
    if (principal === undefined) {
      throw new PgError(SQLSTATE.invalidAuthorization, "the token is no longer valid", "FATAL");
    }
    if (principal.scopes.includes("admin") || principal.scopes.includes(scope)) return;
    if (action !== undefined) this.record(action, 403);
    throw new PgError(
      SQLSTATE.insufficientPrivilege,
      `permission denied: this token lacks the scope ${scope}`,
    );
  }

  record(action: AuditedAction, status: number): void {
    this.access.audit?.({ principal: this.principal, source: this.source, ...action, status });
  }
}
