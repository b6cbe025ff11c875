import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { assertStrongSecrets, estimateSecretBits, secretWeakness } from "./secret-strength.js";

describe("start-mode secret strength", () => {
  it("refuses short or repetitive secrets and takes random ones", () => {
    expect(secretWeakness("x")).toMatch(/^too weak for start mode \(1 characters, about 0 bits/);
    expect(secretWeakness("a".repeat(64))).toMatch(/about 0 bits/);
    expect(secretWeakness("ab".repeat(32))).toMatch(/about 64 bits/);
    expect(secretWeakness("let-me-in")).toBeDefined();
    expect(secretWeakness(randomBytes(16).toString("hex"))).toBeUndefined();
    expect(secretWeakness(randomBytes(32).toString("base64url"))).toBeUndefined();
    expect(estimateSecretBits("0123456789abcdef".repeat(2))).toBe(128);
  });

  it("names the setting that holds the weak secret", () => {
    const strong = randomBytes(32).toString("hex");
    expect(() => assertStrongSecrets({ token: "x" })).toThrow(/^auth\.token: too weak/);
    expect(() => assertStrongSecrets({ token: strong, eventKeys: [strong, "ek"] })).toThrow(
      /^inngest\.eventKeys\.1: too weak/,
    );
    expect(() => assertStrongSecrets({ token: strong, signingKey: "signkey-prod-ab" })).toThrow(
      /^inngest\.signingKey: too weak for start mode \(2 characters/,
    );
    expect(() =>
      assertStrongSecrets({
        token: strong,
        eventKeys: [strong],
        signingKey: `signkey-prod-${strong}`,
        signingKeyFallback: `signkey-prod-${"0".repeat(64)}`,
      }),
    ).toThrow(/^inngest\.signingKeyFallback: too weak/);
    expect(() =>
      assertStrongSecrets({
        token: strong,
        eventKeys: [strong],
        signingKey: `signkey-prod-${strong}`,
      }),
    ).not.toThrow();
  });
});
