import { ManualClock, noopLogger } from "@troupe/core";
import type { DriverRequest } from "@troupe/flows";
import { describe, expect, it } from "vitest";
import { createHttpDriver } from "./http-driver.js";
import { signBody } from "./signing.js";

const KEY = `signkey-prod-${"ab12".repeat(16)}`;
const OLD_KEY = `signkey-prod-${"cd34".repeat(16)}`;
const OTHER_KEY = `signkey-prod-${"ef56".repeat(16)}`;
const NOW = 1_800_000_000_000;

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

/** A driver whose "app" answers `status` with `output`, signed with `signWith` (or unsigned). */
function driverAnswering(
  output: string,
  signWith: string | undefined,
  options: {
    serverKind?: "dev" | "cloud";
    signingKeyFallback?: string;
    status?: number;
    headers?: Record<string, string>;
  } = {},
) {
  const clock = new ManualClock(NOW);
  return createHttpDriver({
    resolve: () => ({ callUrl: "http://127.0.0.1:3000/api/inngest" }),
    signingKey: KEY,
    ...(options.signingKeyFallback ? { signingKeyFallback: options.signingKeyFallback } : {}),
    serverKind: options.serverKind ?? "cloud",
    clock,
    logger: noopLogger,
    fetch: async () =>
      new Response(output, {
        status: options.status ?? 200,
        headers: {
          ...options.headers,
          "content-type": "application/json",
          "x-inngest-sdk": "inngest-js:v4.24.0",
          ...(signWith
            ? { "x-inngest-signature": signBody(signWith, output, Math.floor(NOW / 1000)) }
            : {}),
        },
      }),
  });
}

describe("SDK reply signatures (start mode)", () => {
  it("refuses an unsigned reply: an impostor on the app's port cannot complete a run", async () => {
    const result = await driverAnswering('"forged output"', undefined).execute(request);
    expect(result).toMatchObject({
      type: "error",
      retriable: false,
      error: { name: "INNGEST_MISSING_SIGNATURE" },
    });
  });

  it("refuses a reply signed with another key and accepts one signed with the key", async () => {
    expect(await driverAnswering('"forged"', OTHER_KEY).execute(request)).toMatchObject({
      type: "error",
      error: { name: "INNGEST_BAD_SIGNATURE" },
    });
    expect(await driverAnswering('"real"', KEY).execute(request)).toEqual({
      type: "complete",
      output: "real",
    });
  });

  it("accepts a reply signed with the fallback key during a rotation, and only then", async () => {
    expect(
      await driverAnswering('"rotating"', OLD_KEY, { signingKeyFallback: OLD_KEY }).execute(
        request,
      ),
    ).toEqual({ type: "complete", output: "rotating" });
    expect(await driverAnswering('"rotated"', OLD_KEY).execute(request)).toMatchObject({
      type: "error",
      error: { name: "INNGEST_BAD_SIGNATURE" },
    });
  });

  it("in dev, where SDKs never sign, takes an unsigned reply but still checks a present one", async () => {
    expect(
      await driverAnswering('"dev"', undefined, { serverKind: "dev" }).execute(request),
    ).toEqual({ type: "complete", output: "dev" });
    expect(
      await driverAnswering('"dev"', OTHER_KEY, { serverKind: "dev" }).execute(request),
    ).toMatchObject({ type: "error", error: { name: "INNGEST_BAD_SIGNATURE" } });
  });

  it("retries an unsigned error reply instead of letting it end the run", async () => {
    const noRetry = { "x-inngest-no-retry": "true" };
    const forged = '{"name":"NonRetriableError","message":"forged failure"}';
    expect(
      await driverAnswering(forged, undefined, { status: 400, headers: noRetry }).execute(request),
    ).toMatchObject({
      type: "error",
      retriable: true,
      error: { name: "INNGEST_UNSIGNED_REPLY" },
    });
    // The SDK's own, signed NonRetriableError still ends the run.
    expect(
      await driverAnswering(forged, KEY, { status: 400, headers: noRetry }).execute(request),
    ).toMatchObject({ type: "error", retriable: false, error: { message: "forged failure" } });
    // The SDK refusing Troupe's signature (never signed) is still reported as that.
    expect(await driverAnswering("{}", undefined, { status: 401 }).execute(request)).toMatchObject({
      type: "error",
      retriable: false,
      error: { name: "INNGEST_UNAUTHORIZED" },
    });
  });
});
