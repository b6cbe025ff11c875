// The runtime's side of a signing-key rotation: a signing key's bearer holds every scope on the
// REST API, the fallback's only until `inngest.signingKeyFallbackUntil`; `/api/signing-keys`
// tells an admin which keys are accepted now, by hash prefix only.
import { ManualClock, noopLogger } from "@troupe/core";
import { hashSigningKey } from "@troupe/inngest";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const ROOT = "tok-8a2f6c0e4b9d1f7a3c5e8b2d6f0a4c9e";
const OLD_KEY = `signkey-prod-${"cd34".repeat(16)}`;
const NEW_KEY = `signkey-prod-${"ab12".repeat(16)}`;
const START = Date.UTC(2026, 11, 6, 12);
const UNTIL = "2026-12-06T13:00:00Z";

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

const get = async (url: string, route: string, token: string) => {
  const response = await fetch(`${url}${route}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as { data?: unknown } };
};

describe("signing-key rotation on the runtime", () => {
  it("takes the old key's bearer until the window closes, then only the new one", async () => {
    const clock = new ManualClock(START);
    const runtime = createRuntime(
      parseRuntimeConfig({
        storage: { url: "memory:" },
        server: { port: 0 },
        auth: { token: ROOT },
        inngest: {
          signingKey: NEW_KEY,
          signingKeyFallback: OLD_KEY,
          signingKeyFallbackUntil: UNTIL,
        },
      }),
      { logger: noopLogger, inngest: false, dashboardDir: false, clock },
    );
    runtimes.push(runtime);
    const { url } = await runtime.start();
    const oldBearer = hashSigningKey(OLD_KEY);
    const newBearer = hashSigningKey(NEW_KEY);

    expect((await get(url, "/api/runs", oldBearer)).status).toBe(200);
    const keys = await get(url, "/api/signing-keys", ROOT);
    expect(keys.body.data).toEqual([
      expect.objectContaining({ role: "primary", active: true, notAfter: null }),
      expect.objectContaining({
        role: "fallback",
        active: true,
        notAfter: new Date(UNTIL).toISOString(),
      }),
    ]);
    expect(JSON.stringify(keys.body)).not.toContain(OLD_KEY.slice(13));

    await clock.advanceTo(Date.parse(UNTIL));
    expect((await get(url, "/api/runs", oldBearer)).status).toBe(401);
    expect((await get(url, "/api/runs", newBearer)).status).toBe(200);
    expect((await get(url, "/api/signing-keys", ROOT)).body.data).toEqual([
      expect.objectContaining({ role: "primary", active: true }),
      expect.objectContaining({ role: "fallback", active: false }),
    ]);
  });

  it("refuses a window end that is not a time, or one without a fallback key, naming the field", () => {
    expect(() =>
      parseRuntimeConfig({
        inngest: { signingKeyFallback: OLD_KEY, signingKeyFallbackUntil: "next week" },
      }),
    ).toThrow(/^inngest\.signingKeyFallbackUntil: expected an RFC 3339 time/);
    expect(() => parseRuntimeConfig({ inngest: { signingKeyFallbackUntil: UNTIL } })).toThrow(
      /^inngest\.signingKeyFallbackUntil: set without signingKeyFallback/,
    );
  });
});
