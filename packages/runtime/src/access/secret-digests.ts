import { createHash, timingSafeEqual } from "node:crypto";

/**
 * SHA-256 of a secret: the form secrets are compared in, so a comparison runs over equal lengths
 * and leaks neither a secret's length nor how many leading characters matched.
 */
export function secretDigest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Whether the digest `given` equals any of `accepted` (digests made once, not per request),
 * comparing against every candidate without an early exit, each in constant time.
 */
export function digestIn(given: Buffer, accepted: readonly Buffer[]): boolean {
  let found = false;
  for (const candidate of accepted) {
    // `||` would skip the comparison once matched; `|` keeps the work the same for every key.
    found = timingSafeEqual(candidate, given) || found;
  }
  return found;
}
