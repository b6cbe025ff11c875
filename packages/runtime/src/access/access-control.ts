import { hashSigningKey } from "@troupe/inngest";
import type { Context, MiddlewareHandler } from "hono";
import { presentedBearer } from "../auth.js";
import { requiredScope } from "./route-scopes.js";
import { grants, type Scope } from "./scopes.js";
import { digestIn, secretDigest } from "./secret-digests.js";
import type { TokenRegistry } from "./token-registry.js";

/** Who made a request, once its token is checked. */
export interface Principal {
  /** `root` (`auth.token`), `signing-key`, or the scoped token's name. */
  readonly name: string;
  /** The scoped token's id. */
  readonly tokenId?: string | undefined;
  readonly scopes: readonly Scope[];
}

/** Options of {@link accessControl}. */
export interface AccessControlOptions {
  /** `auth.token`: holds every scope. */
  readonly rootToken: string;
  /**
   * Signing keys whose SDK bearer is accepted with every scope, as before scoped tokens: a fixed
   * list, or a keyring asked at each request (so a rotation window closes on time).
   */
  readonly signingKeys?: readonly string[] | { acceptedHashedKeys(): readonly string[] };
  /** Scoped tokens. */
  readonly registry: TokenRegistry;
  /** Paths left open (they authenticate with event and signing keys). */
  readonly publicPaths: readonly RegExp[];
}

const PRINCIPAL = "troupePrincipal";

/**
 * The principal an `Authorization` header stands for: the root token, a signing key's bearer or
 * a live scoped token (all compared in constant time), else undefined. Shared by
 * {@link accessControl} and the fast read path in front of it, so both decide alike.
 */
export function principalResolver(
  options: Pick<AccessControlOptions, "rootToken" | "signingKeys" | "registry">,
): (authorization: string | undefined) => Principal | undefined | Promise<Principal | undefined> {
  // The accepted secrets' digests are made once (per keyring state), not at every request: the
  // presented token is hashed once and compared with each in constant time, as `secretIn` does.
  const root = [secretDigest(options.rootToken)];
  const keys = options.signingKeys ?? [];
  const fixed = Array.isArray(keys) ? keys.map(hashSigningKey) : undefined;
  // A keyring is asked at each request, so a rotation window closes on time. It answers with one
  // list per state, so the digests are kept per list.
  const signingHashes = (): readonly string[] =>
    fixed ?? (keys as { acceptedHashedKeys(): readonly string[] }).acceptedHashedKeys();
  const digests = new WeakMap<readonly string[], readonly Buffer[]>();
  const signingDigests = (): readonly Buffer[] => {
    const hashes = signingHashes();
    let found = digests.get(hashes);
    if (found === undefined) {
      found = hashes.map(secretDigest);
      digests.set(hashes, found);
    }
    return found;
  };
  // Root and signing-key bearers are answered at once; only a scoped token waits for the registry.
  return (authorization) => {
    const presented = presentedBearer(authorization);
    if (!presented) return undefined;
    const given = secretDigest(presented);
    if (digestIn(given, root)) return ROOT_PRINCIPAL;
    const signing = signingDigests();
    if (signing.length > 0 && digestIn(given, signing)) return SIGNING_KEY_PRINCIPAL;
    return options.registry
      .verify(presented)
      .then((token) =>
        token ? { name: token.name, tokenId: token.id, scopes: token.scopes } : undefined,
      );
  };
}

const ADMIN: readonly Scope[] = Object.freeze(["admin"]);
const ROOT_PRINCIPAL: Principal = Object.freeze({ name: "root", scopes: ADMIN });
const SIGNING_KEY_PRINCIPAL: Principal = Object.freeze({ name: "signing-key", scopes: ADMIN });

/** The principal `accessControl` recognised for this request, if any. */
export function principalOf(context: Context): Principal | undefined {
  return context.get(PRINCIPAL as never) as Principal | undefined;
}

/**
 * Hono middleware: 401 unless the request carries the root token, a signing key's bearer or a live
 * scoped token (all compared in constant time); 403 naming the scope when the token lacks the
 * scope the route needs (see `requiredScope`). SDK paths stay open.
 */
export function accessControl(options: AccessControlOptions): MiddlewareHandler {
  const principalFor = principalResolver(options);
  return async (context, next) => {
    if (options.publicPaths.some((pattern) => pattern.test(context.req.path))) return next();
    const principal = await principalFor(context.req.header("authorization"));
    if (principal === undefined) {
      context.header("WWW-Authenticate", 'Bearer realm="troupe"');
      return context.json(
        { status: 401, message: "Unauthorized: a bearer token is required" },
        401,
      );
    }
    context.set(PRINCIPAL as never, principal as never);
    const scope = requiredScope(context.req.method, context.req.path);
    if (scope !== "any" && !grants(principal.scopes, scope)) {
      return context.json(
        { status: 403, message: `Forbidden: this token lacks the scope ${scope}`, scope },
        403,
      );
    }
    return next();
  };
}
