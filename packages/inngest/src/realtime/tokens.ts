import { createHmac } from "node:crypto";
import { type Clock, TroupeError } from "@troupe/core";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { signingKeySecret } from "../signing.js";
import type { RealtimeScope } from "./frames.js";

/** Issues and checks realtime subscription tokens: HS256 JWTs scoped to a channel and topics. */
export interface RealtimeTokens {
  /** A token granting `scope` until `ttlMs` from now. */
  issue(scope: RealtimeScope): Promise<string>;
  /** The scope `token` grants; throws UNAUTHENTICATED when it is forged, altered or expired. */
  verify(token: string): Promise<RealtimeScope>;
}

/** Options of {@link createRealtimeTokens}. */
export interface RealtimeTokensOptions {
  /**
   * The signing keys the tokens derive from: the first signs, all verify (key rotation). A
   * function is read at every issue and verify, so tokens follow a keyring whose rotation window
   * closes while the server runs. Every Troupe process sharing a signing key accepts the others'
   * tokens. Empty: a fixed dev secret (dev mode only: dev mode lets any caller ask for a token
   * anyway).
   */
  readonly signingKeys: readonly string[] | (() => readonly string[]);
  readonly clock: Clock;
  /** How long a token is valid. Default 1 hour. */
  readonly ttlMs?: number;
}

const ISSUER = "troupe";
const AUDIENCE = "inngest-realtime";
const DEV_SECRET = "troupe-dev-realtime";

const claimsSchema = z.object({
  channel: z.string().min(1),
  topics: z.array(z.string().min(1)).min(1),
});

/**
 * A key of its own per signing key: an HMAC of a fixed label, so a token never doubles as a
 * request signature made with the signing key itself.
 */
function tokenKey(signingKey: string | undefined): Uint8Array {
  const secret = signingKey === undefined ? DEV_SECRET : signingKeySecret(signingKey);
  return createHmac("sha256", secret).update("troupe realtime subscription token").digest();
}

/** Realtime tokens over the given signing keys (jose's HS256, verified in constant time). */
export function createRealtimeTokens(options: RealtimeTokensOptions): RealtimeTokens {
  const { signingKeys } = options;
  const listKeys = typeof signingKeys === "function" ? signingKeys : () => signingKeys;
  // Derived once per signing key: verify runs on every subscription.
  const derived = new Map<string | undefined, Uint8Array>();
  const keyOf = (signingKey: string | undefined) => {
    let key = derived.get(signingKey);
    if (!key) {
      key = tokenKey(signingKey);
      derived.set(signingKey, key);
    }
    return key;
  };
  const currentKeys = (): Uint8Array[] => {
    const listed = listKeys();
    return listed.length === 0 ? [keyOf(undefined)] : listed.map(keyOf);
  };
  const ttlSeconds = Math.max(1, Math.round((options.ttlMs ?? 3_600_000) / 1000));
  const unauthenticated = (reason: string, cause?: unknown) =>
    new TroupeError("UNAUTHENTICATED", `token: ${reason}`, {
      details: { field: "token" },
      ...(cause === undefined ? {} : { cause }),
    });

  return {
    async issue(scope) {
      const now = Math.floor(options.clock.now() / 1000);
      const [signingKey] = currentKeys();
      if (!signingKey) throw new TroupeError("INTERNAL", "no realtime token key");
      return new SignJWT({ channel: scope.channel, topics: [...scope.topics] })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(signingKey);
    },
    async verify(token) {
      let lastError: unknown;
      for (const key of currentKeys()) {
        try {
          const { payload } = await jwtVerify(token, key, {
            algorithms: ["HS256"],
            issuer: ISSUER,
            audience: AUDIENCE,
            currentDate: new Date(options.clock.now()),
          });
          const claims = claimsSchema.safeParse(payload);
          if (!claims.success) throw unauthenticated("does not name a channel and topics");
          return claims.data;
        } catch (error) {
          if (error instanceof errors.JWTExpired) throw unauthenticated("expired", error);
          if (TroupeError.isInstance(error)) throw error;
          lastError = error;
        }
      }
      throw unauthenticated("not a valid realtime token", lastError);
    },
  };
}
