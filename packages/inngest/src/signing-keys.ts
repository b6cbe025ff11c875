import type { Clock } from "@troupe/core";
import { hashSigningKey } from "./signing.js";

/** The signing keys of a server: the primary, and during a rotation the previous key until a time. */
export interface SigningKeySettings {
  /** The key Troupe signs with and always accepts. */
  readonly signingKey?: string | undefined;
  /** The previous key, accepted from callers and on SDK replies until `signingKeyFallbackUntil`. */
  readonly signingKeyFallback?: string | undefined;
  /**
   * When the rotation window closes (ms since the epoch): from this instant on the fallback key
   * is refused everywhere. Unset: the fallback is accepted until it is removed from the config.
   */
  readonly signingKeyFallbackUntil?: number | undefined;
}

/** One key as an operator sees it: never the key itself, only its hash's first characters. */
export interface SigningKeyStatus {
  /** `primary` signs and is accepted; `fallback` is only accepted, during the window. */
  readonly role: "primary" | "fallback";
  /** The first 12 hex digits of the hashed key, as the SDK reports `signing_key_hash`. */
  readonly hashPrefix: string;
  /** Whether the key is accepted now. */
  readonly active: boolean;
  /** When the fallback stops being accepted (RFC 3339); null for the primary or no end set. */
  readonly notAfter: string | null;
}

/** The keys valid now, read on every check so a rotation window closes on time. */
export interface SigningKeyring {
  /** The key outbound requests are signed with (the primary). */
  readonly signingKey: string | undefined;
  /** The keys accepted now: the primary, and the fallback while its window is open. */
  acceptedKeys(): readonly string[];
  /** The hashed keys (what SDKs send as bearer tokens) accepted now. */
  acceptedHashedKeys(): readonly string[];
  /** `Bearer <hashed key>` values accepted now, for comparing whole `Authorization` headers. */
  acceptedBearers(): readonly string[];
  /** The keys and whether each is accepted now, for operators. */
  status(): readonly SigningKeyStatus[];
}

const nonEmpty = (key: string | undefined): key is string => typeof key === "string" && key !== "";

const hashPrefix = (key: string) =>
  hashSigningKey(key)
    .replace(/^signkey-\w+-/, "")
    .slice(0, 12);

/**
 * Holds the primary and fallback signing keys. The fallback is accepted while
 * `clock.now() < signingKeyFallbackUntil`: the comparison is made at each check, so a long-lived
 * server refuses the old key the moment the window closes, without a restart.
 */
export function createSigningKeyring(settings: SigningKeySettings, clock: Clock): SigningKeyring {
  const primary = nonEmpty(settings.signingKey) ? settings.signingKey : undefined;
  const fallback =
    nonEmpty(settings.signingKeyFallback) && settings.signingKeyFallback !== primary
      ? settings.signingKeyFallback
      : undefined;
  const until = settings.signingKeyFallbackUntil;
  const fallbackOpen = () => fallback !== undefined && (until === undefined || clock.now() < until);
  // Hashed once: the checks run on every request.
  const primaryKeys = primary === undefined ? [] : [primary];
  const bothKeys = fallback === undefined ? primaryKeys : [...primaryKeys, fallback];
  const primaryHashes = primaryKeys.map(hashSigningKey);
  const bothHashes = bothKeys.map(hashSigningKey);
  const primaryBearers = primaryHashes.map((hash) => `Bearer ${hash}`);
  const bothBearers = bothHashes.map((hash) => `Bearer ${hash}`);
  return {
    signingKey: primary,
    acceptedKeys: () => (fallbackOpen() ? bothKeys : primaryKeys),
    acceptedHashedKeys: () => (fallbackOpen() ? bothHashes : primaryHashes),
    acceptedBearers: () => (fallbackOpen() ? bothBearers : primaryBearers),
    status: () => [
      ...(primary === undefined
        ? []
        : [
            {
              role: "primary" as const,
              hashPrefix: hashPrefix(primary),
              active: true,
              notAfter: null,
            },
          ]),
      ...(fallback === undefined
        ? []
        : [
            {
              role: "fallback" as const,
              hashPrefix: hashPrefix(fallback),
              active: fallbackOpen(),
              notAfter: until === undefined ? null : new Date(until).toISOString(),
            },
          ]),
    ],
  };
}
