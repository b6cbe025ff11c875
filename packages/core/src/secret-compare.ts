import { createHash, timingSafeEqual } from "node:crypto";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Whether `presented` equals `expected`, in time that depends on neither value: both are hashed
 * to SHA-256 first, so the comparison runs over equal lengths and leaks neither the secret's
 * length nor how many leading characters matched. Use it for every token, key and signature.
 */
export function secretEquals(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Whether `presented` equals any of `accepted`, comparing against every candidate (no early
 * exit), each in constant time (see {@link secretEquals}). An empty list accepts nothing.
 */
export function secretIn(presented: string, accepted: readonly string[]): boolean {
  const given = digest(presented);
  let found = false;
  for (const candidate of accepted) {
    // `||` would skip the comparison once matched; `|` keeps the work the same for every key.
    found = timingSafeEqual(digest(candidate), given) || found;
  }
  return found;
}
