import { invalidArgument } from "@troupe/core";

/** Fewest characters a start-mode secret (token, event key, signing key's hex part) may have. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Fewest bits of estimated entropy a start-mode secret must carry. 32 random hex digits (128
 * bits) never measured below 91 in 200,000 draws; `aaaa…` or `abab…` measure near 0 and 32.
 */
export const MIN_SECRET_BITS = 80;

/**
 * An estimate of the entropy of `secret`, in bits: the Shannon entropy of its character
 * frequencies times its length. It cannot tell a random string from a well-mixed phrase, but it
 * catches what matters at start-up: short secrets and repeated or sequential filler.
 */
export function estimateSecretBits(secret: string): number {
  const characters = [...secret];
  const counts = new Map<string, number>();
  for (const character of characters) counts.set(character, (counts.get(character) ?? 0) + 1);
  let perCharacter = 0;
  for (const count of counts.values()) {
    const share = count / characters.length;
    perCharacter -= share * Math.log2(share);
  }
  return perCharacter * characters.length;
}

/** Why `secret` is too weak for start mode, or undefined when it is strong enough. */
export function secretWeakness(secret: string): string | undefined {
  const length = [...secret].length;
  const bits = Math.floor(estimateSecretBits(secret));
  if (length >= MIN_SECRET_LENGTH && bits >= MIN_SECRET_BITS) return undefined;
  return `too weak for start mode (${length} characters, about ${bits} bits of entropy); use at least ${MIN_SECRET_LENGTH} random characters with ${MIN_SECRET_BITS}+ bits, e.g. the output of \`openssl rand -hex 32\``;
}

/** The secrets start mode checks, by the setting that holds them. */
export interface StartSecrets {
  /** `auth.token`. */
  readonly token?: string | undefined;
  /** `inngest.eventKeys`. */
  readonly eventKeys?: readonly string[];
  /** `inngest.signingKey` (`signkey-<env>-<hex>`: the hex part is what is measured). */
  readonly signingKey?: string | undefined;
  /** `inngest.signingKeyFallback`. */
  readonly signingKeyFallback?: string | undefined;
}

/**
 * Throws INVALID_ARGUMENT naming the setting (`auth.token`, `inngest.eventKeys.0`,
 * `inngest.signingKey`) when a start-mode secret is too short or too predictable.
 */
export function assertStrongSecrets(secrets: StartSecrets): void {
  const checks: [string, string | undefined][] = [
    ["auth.token", secrets.token],
    ...(secrets.eventKeys ?? []).map((key, index): [string, string] => [
      `inngest.eventKeys.${index}`,
      key,
    ]),
    ["inngest.signingKey", secrets.signingKey?.replace(/^signkey-\w+-/, "")],
    ["inngest.signingKeyFallback", secrets.signingKeyFallback?.replace(/^signkey-\w+-/, "")],
  ];
  for (const [field, secret] of checks) {
    if (secret === undefined) continue;
    const weakness = secretWeakness(secret);
    if (weakness) throw invalidArgument(field, weakness);
  }
}
