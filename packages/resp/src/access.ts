/** Who holds a connection's token, as the server's {@link RespAccess} resolved it. */
export interface ProtocolPrincipal {
  /** The token's name (`root` for the runtime's `auth.token`), shown in the audit log. */
  readonly name: string;
  readonly tokenId?: string | undefined;
  /** What it may do; `admin` holds every scope. */
  readonly scopes: readonly string[];
}

/** One audited command. */
export interface ProtocolAuditEntry {
  /** Undefined for a failed `AUTH`. */
  readonly principal: ProtocolPrincipal | undefined;
  /** The client's address and port. */
  readonly source: string;
  /** `RESP <COMMAND>`, e.g. `RESP ACTOR.CALL`. */
  readonly operation: string;
  /** What it acted on: the key, the actor (`type/key/action`) or the event name. */
  readonly target: string;
  /** In the audit log's HTTP vocabulary: 200 done, 401 bad token, 403 missing scope, 500 failed. */
  readonly status: number;
}

/**
 * Scoped tokens for the RESP server: `AUTH <token>` (or `AUTH <user> <token>`) is checked by
 * `authenticate`, each command needs a scope (see {@link commandScope}), and mutating commands
 * and refusals are handed to `audit`.
 */
export interface RespAccess {
  /** The principal `password` stands for, or undefined to refuse it. */
  authenticate(password: string, user: string | undefined): Promise<ProtocolPrincipal | undefined>;
  /** Receives refusals and the commands that change something. Must not throw. */
  audit?(entry: ProtocolAuditEntry): void;
  /**
   * How long a connection uses a checked token before `authenticate` runs again, in ms: with the
   * token cache, the bound on how late a revocation reaches an open connection. Default 100.
   */
  readonly recheckMs?: number;
}

/** True when `principal` may do what `scope` guards. */
export function holds(principal: ProtocolPrincipal, scope: string): boolean {
  return principal.scopes.includes("admin") || principal.scopes.includes(scope);
}

// Commands that need no scope once authenticated: connection handling and introspection.
const UNSCOPED = new Set([
  "PING",
  "ECHO",
  "QUIT",
  "AUTH",
  "HELLO",
  "SELECT",
  "CLIENT",
  "RESET",
  "INFO",
  "COMMAND",
  "CONFIG",
  "MULTI",
  "DISCARD",
  "EXEC",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
]);

/**
 * The scope a command needs: `actors:read` to read keys (and subscribe), `actors:call` to
 * change them (every key is an actor), call actors and publish, `events:send` for `EVENT.SEND`.
 * Undefined: no scope beyond a valid token.
 */
export function commandScope(name: string, flags: readonly string[]): string | undefined {
  if (UNSCOPED.has(name)) return undefined;
  if (name === "EVENT.SEND") return "events:send";
  if (name === "ACTOR.CALL" || name === "PUBLISH" || name === "DEL" || name === "MSET") {
    return "actors:call";
  }
  if (flags.includes("write")) return "actors:call";
  return "actors:read";
}

/** The target an audit entry names for a command's arguments (`args[0]` is the name). */
export function auditTarget(name: string, args: readonly string[]): string {
  if (name === "ACTOR.CALL") return `${args[1]}/${args[2]}/${args[3]}`;
  if (name === "MSET") return args.filter((_, index) => index % 2 === 1).join(" ");
  if (name === "DEL") return args.slice(1).join(" ");
  return args[1] ?? "";
}
