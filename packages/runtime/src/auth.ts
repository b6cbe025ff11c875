import { secretIn } from "@troupe/core";
import { hashSigningKey } from "@troupe/inngest";
import type { MiddlewareHandler } from "hono";

/**
 * Paths the Inngest SDKs call with their own credentials (event keys, signing keys), and the
 * health check: the bearer token never guards these.
 */
export const SDK_PATHS: readonly RegExp[] = [
  /^\/health$/,
  /^\/fn\/register$/,
  /^\/e\/[^/]+$/,
  /^\/v1\/checkpoint(\/|$)/,
  /^\/v1\/http\/runs\//,
  /^\/v0\/runs\/[^/]+\/(batch|actions)$/,
  /^\/dev$/,
];

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function presentedBearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim() || undefined;
}

/** Options of {@link bearerAuth}. */
export interface BearerAuthOptions {
  /** The token clients send as `Authorization: Bearer <token>`. */
  readonly token: string;
  /**
   * Signing keys whose SDK bearer (see {@link hashSigningKey}) is accepted too, so scripts using
   * an Inngest SDK's API client can read runs with the key they already have.
   */
  readonly signingKeys?: readonly string[];
  /** Paths left open. Default {@link SDK_PATHS}. */
  readonly publicPaths?: readonly RegExp[];
}

/**
 * Hono middleware that answers 401 unless the request carries the token (compared in constant
 * time). SDK paths stay open: they authenticate with event and signing keys.
 */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  const accepted = [options.token, ...(options.signingKeys ?? []).map(hashSigningKey)];
  const publicPaths = options.publicPaths ?? SDK_PATHS;
  return async (context, next) => {
    if (publicPaths.some((pattern) => pattern.test(context.req.path))) return next();
    const presented = presentedBearer(context.req.header("authorization"));
    if (presented && secretIn(presented, accepted)) {
      return next();
    }
    context.header("WWW-Authenticate", 'Bearer realm="troupe"');
    return context.json({ status: 401, message: "Unauthorized: a bearer token is required" }, 401);
  };
}
