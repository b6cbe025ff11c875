import type { Clock } from "@troupe/core";
import {
  createSigningKeyring,
  type SigningKeyring,
  type SigningKeySettings,
} from "@troupe/inngest";
import type { RuntimeConfig } from "../config.js";

/** The signing-key options of the Inngest API, from `inngest.*` (only the fields that are set). */
export interface SigningKeyOptions {
  readonly signingKey?: string;
  readonly signingKeyFallback?: string;
  /** ms since the epoch. */
  readonly signingKeyFallbackUntil?: number;
}

/**
 * `inngest.signingKey`, `signingKeyFallback` and `signingKeyFallbackUntil` (RFC 3339 in the config,
 * ms here), for the Inngest API and for the runtime's own keyring, which must agree on when the
 * rotation window closes.
 */
export function signingKeyOptions(
  inngest: RuntimeConfig["inngest"],
): SigningKeyOptions & SigningKeySettings {
  const until = inngest.signingKeyFallbackUntil;
  return {
    ...(inngest.signingKey === undefined ? {} : { signingKey: inngest.signingKey }),
    ...(inngest.signingKeyFallback === undefined
      ? {}
      : { signingKeyFallback: inngest.signingKeyFallback }),
    ...(until === undefined ? {} : { signingKeyFallbackUntil: Date.parse(until) }),
  };
}

/** The runtime's keyring over `inngest.*`: signing-key bearers are checked against it. */
export function signingKeyringOf(inngest: RuntimeConfig["inngest"], clock: Clock): SigningKeyring {
  return createSigningKeyring(signingKeyOptions(inngest), clock);
}
