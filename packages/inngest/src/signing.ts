import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import canonicalizeModule from "canonicalize";

type Canonicalize = (input: unknown) => string | undefined;
// canonicalize 2.x is CommonJS (`module.exports = fn`) but its types declare a default export;
// accept both shapes so the source and the bundled build agree.
const canonicalizeJson: Canonicalize =
  typeof canonicalizeModule === "function"
    ? (canonicalizeModule as Canonicalize)
    : (canonicalizeModule as { default: Canonicalize }).default;

const KEY_PREFIX = /^signkey-\w+-/;

/** The part of a signing key that is used as the HMAC key: `signkey-<env>-` stripped. */
export function signingKeySecret(signingKey: string): string {
  return signingKey.replace(KEY_PREFIX, "");
}

/**
 * The bearer token an SDK sends for `signingKey`: the prefix kept, the hex part replaced by the
 * SHA-256 of its hex-decoded bytes (what the official SDKs put in `Authorization`).
 */
export function hashSigningKey(signingKey: string): string {
  const prefix = KEY_PREFIX.exec(signingKey)?.[0] ?? "";
  const secret = signingKeySecret(signingKey);
  return `${prefix}${createHash("sha256").update(Buffer.from(secret, "hex")).digest("hex")}`;
}

/** RFC 8785 (JCS) canonical JSON, the form call request bodies are sent and signed in. */
export function canonicalJson(value: unknown): string {
  // canonicalize returns undefined only for `undefined` input; a call body is always an object.
  return canonicalizeJson(value) ?? "null";
}

/** `X-Inngest-Signature` for `body` at `timestampSeconds`: `t=<ts>&s=<hex hmac-sha256>`. */
export function signBody(signingKey: string, body: string, timestampSeconds: number): string {
  const mac = createHmac("sha256", signingKeySecret(signingKey))
    .update(body + String(timestampSeconds))
    .digest("hex");
  return `t=${timestampSeconds}&s=${mac}`;
}

/**
 * Checks an `X-Inngest-Signature` header against `body` with any of `signingKeys`, allowing
 * `maxSkewMs` of clock difference. The SDKs sign responses over the raw response text.
 */
export function verifySignature(
  header: string,
  body: string,
  signingKeys: readonly string[],
  nowMs: number,
  maxSkewMs = 5 * 60_000,
): boolean {
  const params = new URLSearchParams(header);
  const timestamp = Number(params.get("t"));
  const signature = params.get("s") ?? "";
  if (!Number.isFinite(timestamp) || !/^[0-9a-f]+$/.test(signature)) return false;
  if (Math.abs(nowMs - timestamp * 1000) > maxSkewMs) return false;
  const given = Buffer.from(signature, "hex");
  for (const key of signingKeys) {
    const expected = Buffer.from(
      new URLSearchParams(signBody(key, body, timestamp)).get("s") ?? "",
      "hex",
    );
    if (expected.length === given.length && timingSafeEqual(expected, given)) return true;
  }
  return false;
}
