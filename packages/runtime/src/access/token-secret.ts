import { createHash, randomBytes } from "node:crypto";

/** A scoped token as clients send it: `trp_<id>_<secret>`. */
export interface TokenParts {
  /** The token's id (16 lower-case base32 characters): the Store key, shown in lists and logs. */
  readonly id: string;
  /** The secret part; only its SHA-256 is stored. */
  readonly secret: string;
}

const FORMAT = /^trp_([a-z2-7]{16})_([A-Za-z0-9_-]{43})$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A new token: a random id and 256 random bits of secret. */
export function newToken(): TokenParts & { readonly text: string } {
  const idBytes = randomBytes(16);
  let id = "";
  for (const byte of idBytes) id += BASE32[byte & 31];
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, text: `trp_${id}_${secret}` };
}

/** The parts of `text`, or undefined when it is not a scoped token. */
export function parseToken(text: string): TokenParts | undefined {
  const match = FORMAT.exec(text);
  if (!match) return undefined;
  return { id: match[1] as string, secret: match[2] as string };
}

/** What the Store keeps of a secret. The secret has 256 random bits, so one SHA-256 suffices. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
