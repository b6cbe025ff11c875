import { invalidArgument } from "@troupe/core";
import { missingStartSettings, type RuntimeConfig } from "./config.js";
import { assertStrongSecrets } from "./security/secret-strength.js";

/**
 * Checks what `troupe start` requires (a signing key, an event key, an auth token, each strong
 * enough: 32+ characters, 80+ bits), naming the missing or weak field and how to set it.
 */
export function assertStartConfig(config: RuntimeConfig): void {
  const missing = missingStartSettings(config);
  const { signingKey } = config.inngest;
  const { token } = config.auth;
  if (missing.length > 0 || signingKey === undefined || token === undefined) {
    // Every missing setting in one error, the first one leading the message (`field: problem`).
    const [first = { field: "inngest.signingKey", message: "required in start mode" }, ...rest] =
      missing;
    throw invalidArgument(
      first.field,
      [first.message, ...rest.map((setting) => `${setting.field}: ${setting.message}`)].join("; "),
      { missing: missing.map((setting) => setting.field) },
    );
  }
  assertStrongSecrets({
    token: config.auth.token,
    eventKeys: config.inngest.eventKeys,
    signingKey: config.inngest.signingKey,
    signingKeyFallback: config.inngest.signingKeyFallback,
  });
}
