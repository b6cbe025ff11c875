import { secretIn } from "@troupe/core";
import { hashSigningKey } from "@troupe/inngest";
import type { Context, MiddlewareHandler } from "hono";
import { presentedBearer } from "../auth.js";
import { requiredScope } from "./route-scopes.js";
import { grants, type Scope } from "./scopes.js";
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
  /** Signing keys whose SDK bearer is accepted with every scope, as before scoped tokens. */
  readonly signingKeys?: readonly string[];
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
): (authorization: string | undefined) => Promise<Principal | undefined> {
  const root = [options.rootToken];
  const signing = (options.signingKeys ?? []).map(hashSigningKey);
  return async (authorization) => {
    const presented = presentedBearer(authorization);
    if (!presented) return undefined;
    if (secretIn(presented, root)) return { name: "root", scopes: ["admin"] };
    if (signing.length > 0 && secretIn(presented, signing)) {
      return { name: "signing-key", scopes: ["admin"] };
    }
    const token = await options.registry.verify(presented);
    return token ? { name: token.name, tokenId: token.id, scopes: token.scopes } : undefined;
  };
}

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
    if (!grants(principal.scopes, scope)) {
      return context.json(
        { status: 403, message: `Forbidden: this token lacks the scope ${scope}`, scope },
        403,
      );
    }
    return next();
  };
}
