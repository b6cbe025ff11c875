import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { PgError, SQLSTATE } from "./pg-error.js";

const ITERATIONS = 4096;

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function sha256(bytes: Buffer): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** A password's SCRAM-SHA-256 verifier: what the server keeps instead of the password. */
export interface ScramVerifier {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Derives the verifier of `password` (once per server: PBKDF2 is deliberately slow). */
export function scramVerifier(password: string, salt = randomBytes(16)): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, ITERATIONS, 32, "sha256");
  return {
    salt,
    iterations: ITERATIONS,
    storedKey: sha256(hmac(salted, "Client Key")),
    serverKey: hmac(salted, "Server Key"),
  };
}

const failed = () =>
  new PgError(SQLSTATE.invalidPassword, "password authentication failed", "FATAL");

/**
 * One SCRAM-SHA-256 exchange (RFC 5802/7677) as PostgreSQL runs it: the client's first message
 * in, the server's first message out; the client's final message in, the server's signature out.
 */
export class ScramExchange {
  private clientFirstBare = "";
  private serverFirst = "";
  private nonce = "";

  constructor(private readonly verifier: ScramVerifier) {}

  /** Takes `client-first-message`, answers `server-first-message`. */
  start(clientFirst: string): string {
    // gs2 header: no channel binding ("n,,") or "y,," (client could but thinks we cannot).
    const match = /^[ny],[^,]*,(.*)$/.exec(clientFirst);
    const bare = match?.[1];
    const clientNonce = bare === undefined ? undefined : /(?:^|,)r=([^,]+)/.exec(bare)?.[1];
    if (bare === undefined || clientNonce === undefined) {
      throw new PgError(
        SQLSTATE.protocolViolation,
        "malformed SCRAM client-first-message",
        "FATAL",
      );
    }
    this.clientFirstBare = bare;
    this.nonce = clientNonce + randomBytes(18).toString("base64");
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString("base64")},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** Takes `client-final-message`, checks the proof, answers `server-final-message`. */
  finish(clientFinal: string): string {
    const proofAt = clientFinal.lastIndexOf(",p=");
    if (proofAt < 0) throw failed();
    const withoutProof = clientFinal.slice(0, proofAt);
    const nonce = /(?:^|,)r=([^,]+)/.exec(withoutProof)?.[1];
    if (nonce !== this.nonce) throw failed();
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), "base64");
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) throw failed();
    const clientKey = Buffer.alloc(proof.length);
    for (let index = 0; index < proof.length; index++) {
      clientKey[index] = (proof[index] as number) ^ (signature[index] as number);
    }
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) throw failed();
    return `v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`;
  }
}
