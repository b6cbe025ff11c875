import { ManualClock, noopLogger } from "@troupe/core";
import type { DriverRequest } from "@troupe/flows";
import { describe, expect, it } from "vitest";
import { createHttpDriver } from "./http-driver.js";
import { hashSigningKey, signBody } from "./signing.js";
import { createSigningKeyring } from "./signing-keys.js";

const NEW_KEY = `signkey-prod-${"ab12".repeat(16)}`;
const OLD_KEY = `signkey-prod-${"cd34".repeat(16)}`;
const NOW = 1_800_000_000_000;
const UNTIL = NOW + 60_000;

describe("signing keyring across a rotation window", () => {
  it("accepts the fallback until the window closes, then only the primary", async () => {
    const clock = new ManualClock(NOW);
    const keyring = createSigningKeyring(
      { signingKey: NEW_KEY, signingKeyFallback: OLD_KEY, signingKeyFallbackUntil: UNTIL },
      clock,
    );
    expect(keyring.signingKey).toBe(NEW_KEY);
    expect(keyring.acceptedKeys()).toEqual([NEW_KEY, OLD_KEY]);
    expect(keyring.acceptedBearers()).toEqual([
      `Bearer ${hashSigningKey(NEW_KEY)}`,
      `Bearer ${hashSigningKey(OLD_KEY)}`,
    ]);
    await clock.advanceTo(UNTIL - 1);
    expect(keyring.acceptedKeys()).toEqual([NEW_KEY, OLD_KEY]);
    // The end is exclusive: at `until` the old key is already refused.
    await clock.advanceTo(UNTIL);
    expect(keyring.acceptedKeys()).toEqual([NEW_KEY]);
    expect(keyring.acceptedHashedKeys()).toEqual([hashSigningKey(NEW_KEY)]);
    expect(keyring.acceptedBearers()).toEqual([`Bearer ${hashSigningKey(NEW_KEY)}`]);
  });

  it("reports each key by hash prefix and whether it is accepted now, never the key", async () => {
    const clock = new ManualClock(NOW);
    const keyring = createSigningKeyring(
      { signingKey: NEW_KEY, signingKeyFallback: OLD_KEY, signingKeyFallbackUntil: UNTIL },
      clock,
    );
    const prefixOf = (key: string) => hashSigningKey(key).replace("signkey-prod-", "").slice(0, 12);
    expect(keyring.status()).toEqual([
      { role: "primary", hashPrefix: prefixOf(NEW_KEY), active: true, notAfter: null },
      {
        role: "fallback",
        hashPrefix: prefixOf(OLD_KEY),
        active: true,
        notAfter: new Date(UNTIL).toISOString(),
      },
    ]);
    await clock.advanceTo(UNTIL);
    expect(keyring.status()[1]).toMatchObject({ role: "fallback", active: false });
    expect(JSON.stringify(keyring.status())).not.toContain(OLD_KEY.slice(13));
  });

  it("keeps a fallback without an end time (the old option) and ignores one equal to the primary", () => {
    const clock = new ManualClock(NOW);
    expect(
      createSigningKeyring(
        { signingKey: NEW_KEY, signingKeyFallback: OLD_KEY },
        clock,
      ).acceptedKeys(),
    ).toEqual([NEW_KEY, OLD_KEY]);
    expect(
      createSigningKeyring({ signingKey: NEW_KEY, signingKeyFallback: NEW_KEY }, clock).status(),
    ).toHaveLength(1);
  });
});

const request: DriverRequest = {
  functionId: "app-fn",
  runId: "01J0000000000000000000RUN1",
  event: { id: "01J0000000000000000000EVT1", name: "demo/x", data: {}, ts: NOW },
  events: [{ id: "01J0000000000000000000EVT1", name: "demo/x", data: {}, ts: NOW }],
  steps: {},
  stack: [],
  stepId: "discover",
  attempt: 0,
  maxAttempts: 1,
  disableImmediateExecution: false,
};

describe("SDK replies signed with the old key across the window", () => {
  it("are taken before the window closes and refused after; calls are signed with the new key", async () => {
    const clock = new ManualClock(NOW);
    const sentWith: string[] = [];
    const driver = createHttpDriver({
      resolve: () => ({ callUrl: "http://127.0.0.1:3000/api/inngest" }),
      signingKey: NEW_KEY,
      signingKeyFallback: OLD_KEY,
      signingKeyFallbackUntil: UNTIL,
      serverKind: "cloud",
      clock,
      logger: noopLogger,
      fetch: async (_url, init) => {
        const body = String(init?.body);
        const signature = new Headers(init?.headers).get("x-inngest-signature") ?? "";
        const seconds = Math.floor(clock.now() / 1000);
        if (signature === signBody(NEW_KEY, body, seconds)) sentWith.push("new");
        const output = '"done"';
        return new Response(output, {
          status: 200,
          headers: {
            "content-type": "application/json",
            "x-inngest-sdk": "inngest-js:v4.24.0",
            "x-inngest-signature": signBody(OLD_KEY, output, seconds),
          },
        });
      },
    });
    expect(await driver.execute(request)).toEqual({ type: "complete", output: "done" });
    await clock.advanceTo(UNTIL);
    expect(await driver.execute(request)).toMatchObject({
      type: "error",
      error: { name: "INNGEST_BAD_SIGNATURE" },
    });
    expect(sentWith).toEqual(["new", "new"]);
  });

  it("with only a fallback whose window closed, still verifies (and refuses) rather than skipping", async () => {
    const clock = new ManualClock(UNTIL);
    const driver = createHttpDriver({
      resolve: () => ({ callUrl: "http://127.0.0.1:3000/api/inngest" }),
      signingKeyFallback: OLD_KEY,
      signingKeyFallbackUntil: UNTIL,
      serverKind: "cloud",
      clock,
      logger: noopLogger,
      fetch: async () =>
        new Response('"forged"', {
          status: 200,
          headers: {
            "x-inngest-sdk": "inngest-js:v4.24.0",
            "x-inngest-signature": signBody(OLD_KEY, '"forged"', Math.floor(UNTIL / 1000)),
          },
        }),
    });
    expect(await driver.execute(request)).toMatchObject({ type: "error" });
  });
});
