import { describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../config.js";
import { isSyncAllowed } from "./app-sync-policy.js";

describe("security.offloadAllowlist (step.fetch / step.ai.infer in start mode)", () => {
  it("is validated with the field named and defaults to nothing allowed", () => {
    expect(() => parseRuntimeConfig({ security: { offloadAllowlist: ["ftp://x"] } })).toThrow(
      /^security\.offloadAllowlist\.0: expected an http/,
    );
    const config = parseRuntimeConfig({});
    expect(config.security.offloadAllowlist).toEqual([]);
  });

  it("allows URLs under a listed prefix only, compared as parsed URLs", () => {
    const list = parseRuntimeConfig({
      security: { offloadAllowlist: ["https://api.openai.com/v1/"] },
    }).security.offloadAllowlist;
    const allowed = (url: string) => isSyncAllowed(url, [], list);
    expect(allowed("https://api.openai.com/v1/chat/completions")).toBe(true);
    expect(allowed("https://api.openai.com.evil.test/v1/chat/completions")).toBe(false);
    expect(allowed("http://169.254.169.254/latest/meta-data")).toBe(false);
    expect(allowed("https://user:pw@api.openai.com/v1/x")).toBe(false);
  });
});
