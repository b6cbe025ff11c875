import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PgError } from "./pg-error.js";
import { ScramExchange, scramVerifier } from "./scram.js";

/** The client side of SCRAM-SHA-256, written from RFC 5802 for the test. */
function clientProof(
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  withoutProof: string,
) {
  const salt = Buffer.from(/s=([^,]+)/.exec(serverFirst)?.[1] as string, "base64");
  const iterations = Number(/i=(\d+)/.exec(serverFirst)?.[1]);
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const auth = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac("sha256", storedKey).update(auth).digest();
  const proof = Buffer.from(clientKey.map((byte, index) => byte ^ (signature[index] as number)));
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return {
    proof: proof.toString("base64"),
    serverSignature: createHmac("sha256", serverKey).update(auth).digest("base64"),
  };
}

describe("SCRAM-SHA-256 exchange", () => {
  const verifier = scramVerifier("correct horse");

  it("accepts the right password and proves the server knows it too", () => {
    const exchange = new ScramExchange(verifier);
    const serverFirst = exchange.start("n,,n=,r=abc123");
    const nonce = /r=([^,]+)/.exec(serverFirst)?.[1] as string;
    expect(nonce.startsWith("abc123")).toBe(true);
    const withoutProof = `c=biws,r=${nonce}`;
    const { proof, serverSignature } = clientProof(
      "correct horse",
      "n=,r=abc123",
      serverFirst,
      withoutProof,
    );
    expect(exchange.finish(`${withoutProof},p=${proof}`)).toBe(`v=${serverSignature}`);
  });

  it("refuses a wrong password, a replayed nonce and a malformed message", () => {
    const exchange = new ScramExchange(verifier);
    const serverFirst = exchange.start("n,,n=,r=xyz");
    const nonce = /r=([^,]+)/.exec(serverFirst)?.[1] as string;
    const withoutProof = `c=biws,r=${nonce}`;
    const wrong = clientProof("wrong", "n=,r=xyz", serverFirst, withoutProof);
    expect(() => exchange.finish(`${withoutProof},p=${wrong.proof}`)).toThrow(PgError);
    expect(() => exchange.finish(`c=biws,r=other,p=${wrong.proof}`)).toThrow(
      "password authentication failed",
    );
    expect(() => new ScramExchange(verifier).start("garbage")).toThrow("malformed");
  });
});
