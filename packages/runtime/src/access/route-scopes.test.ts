import { describe, expect, it } from "vitest";
import { requiredScope } from "./route-scopes.js";
import { grants } from "./scopes.js";

describe("requiredScope", () => {
  it.each([
    ["GET", "/api/whoami", "any"],
    ["GET", "/api/signing-keys", "admin"],
    ["GET", "/api/runs", "runs:read"],
    ["GET", "/api/runs/01J/", "runs:read"],
    ["POST", "/api/runs/01J/cancel", "runs:write"],
    ["POST", "/api/runs/01J/rerun", "runs:write"],
    ["POST", "/api/events", "events:send"],
    ["POST", "/api/events/01J/replay", "runs:write"],
    ["POST", "/api/functions/app-fn/invoke", "runs:write"],
    ["POST", "/api/apps/sync", "admin"],
    ["GET", "/api/tokens", "admin"],
    ["POST", "/api/tokens", "admin"],
    ["DELETE", "/api/tokens/abc", "admin"],
    ["GET", "/api/audit", "admin"],
    ["GET", "/api/actors", "actors:read"],
    ["POST", "/api/stats/resolve", "stats:read"],
    ["GET", "/stats/actors/p1", "stats:read"],
    ["PUT", "/stats/actors/p1/subsystems/gear", "stats:write"],
    ["POST", "/actors/Counter/a/increment", "actors:call"],
    ["GET", "/actors/Counter/a", "actors:read"],
    ["GET", "/metrics", "metrics:read"],
    ["GET", "/v1/runs/01J", "runs:read"],
    ["POST", "/v1/runs/01J/cancel", "runs:write"],
    ["POST", "/v1/events", "events:send"],
    ["DELETE", "/v1/cancellations/x", "runs:write"],
  ])("%s %s needs %s", (method, path, scope) => {
    expect(requiredScope(method, path)).toBe(scope);
  });

  it("lets any valid token reach /mcp, whose tools check their own scopes", () => {
    expect(requiredScope("POST", "/mcp")).toBe("any");
    expect(requiredScope("POST", "/mcp/other")).toBe("admin");
  });

  it("closes a route no rule names: it needs admin", () => {
    expect(requiredScope("POST", "/api/something-new")).toBe("admin");
    expect(requiredScope("GET", "/internal")).toBe("admin");
  });

  it("admin holds every scope; others only their own", () => {
    expect(grants(["admin"], "runs:write")).toBe(true);
    expect(grants(["runs:read"], "runs:write")).toBe(false);
    expect(grants(["runs:read", "runs:write"], "runs:write")).toBe(true);
  });
});
