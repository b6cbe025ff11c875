import { secretIn } from "@troupe/core";
import type { Hono } from "hono";
import type { FailReply } from "./api-http.js";
import type { SigningKeyring } from "./signing-keys.js";

/** Who may call the signing-key-guarded routes (`/fn/register`, `/dev`, `/v0`, `/v1`). */
export interface ApiAuth {
  /**
   * True when `header` (the `Authorization` value) carries the hashed signing key (or the
   * fallback during rotation), compared in constant time; always true in `dev` mode.
   */
  authorized(header: string | undefined): boolean;
}

/**
 * The bearer check of an API in `mode` holding `keyring`: the keys are read at each request, so
 * the fallback is refused the moment its rotation window closes.
 */
export function createApiAuth(mode: "dev" | "start", keyring: SigningKeyring): ApiAuth {
  return {
    authorized: (header) =>
      mode === "dev" || (header !== undefined && secretIn(header, keyring.acceptedBearers())),
  };
}

/**
 * Refuses requests under `path` (a Hono pattern such as `/v1/*`) that do not carry the signing
 * key, with a 401; `skip` lets through paths that authorize themselves.
 */
export function guardWithSigningKey(
  app: Hono,
  path: string,
  auth: ApiAuth,
  fail: FailReply,
  skip: (path: string) => boolean = () => false,
): void {
  app.use(path, async (c, next) => {
    if (skip(c.req.path) || auth.authorized(c.req.header("authorization"))) return next();
    return fail(401, "Unauthorized: the signing key does not match");
  });
}
