import { describe, expect, it } from "vitest";
import { isSyncAllowed } from "./app-sync-policy.js";

describe("isSyncAllowed (start mode)", () => {
  const configured = ["http://app.internal:3000/api/inngest"];
  const allowlist = ["https://apps.example.com/team-a"];

  it("allows the configured serve URLs and URLs under an allowlisted prefix", () => {
    expect(isSyncAllowed("http://app.internal:3000/api/inngest", configured, [])).toBe(true);
    expect(isSyncAllowed("https://apps.example.com/team-a/api/inngest", [], allowlist)).toBe(true);
    expect(isSyncAllowed("https://apps.example.com/team-a", [], allowlist)).toBe(true);
  });

  it("refuses everything else: other ports, hosts, paths, look-alike hosts, credentials", () => {
    expect(isSyncAllowed("http://app.internal:6379/api/inngest", configured, allowlist)).toBe(
      false,
    );
    expect(isSyncAllowed("http://169.254.169.254/latest/meta-data", configured, allowlist)).toBe(
      false,
    );
    expect(isSyncAllowed("http://app.internal:3000/admin", configured, allowlist)).toBe(false);
    expect(isSyncAllowed("https://apps.example.com/team-ab/x", [], allowlist)).toBe(false);
    expect(isSyncAllowed("https://apps.example.com.evil.test/team-a/x", [], allowlist)).toBe(false);
    expect(isSyncAllowed("https://user:pw@apps.example.com/team-a/x", [], allowlist)).toBe(false);
    expect(isSyncAllowed("not a url", configured, allowlist)).toBe(false);
  });
});
