// `GET /api/whoami`: any accepted token learns its own name and scopes (the dashboard hides what
// the token may not do); the server still refuses what the scopes do not cover.
import { ManualClock, noopLogger } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const ROOT = "tok-3c7e1a9f5b2d8e4a6c0f7b1d9e3a5c8f";
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

async function start(auth: { token?: string }) {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, auth }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      clock: new ManualClock(1_700_000_000_000),
    },
  );
  runtimes.push(runtime);
  return (await runtime.start()).url;
}

const get = async (url: string, route: string, token?: string) => {
  const response = await fetch(`${url}${route}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("GET /api/whoami", () => {
  it("names a scoped token and its scopes, whatever they are; refuses a caller without a token", async () => {
    const url = await start({ token: ROOT });
    const created = await fetch(`${url}/api/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "reader", scopes: ["runs:read"] }),
    });
    const { token } = (await created.json()) as { token: string };
    expect(await get(url, "/api/whoami", token)).toEqual({
      status: 200,
      body: { name: "reader", scopes: ["runs:read"], auth: true },
    });
    // Hiding is only UX: the server refuses what the token lacks.
    expect((await get(url, "/api/tokens", token)).status).toBe(403);
    expect((await get(url, "/api/whoami", ROOT)).body).toEqual({
      name: "root",
      scopes: ["admin"],
      auth: true,
    });
    expect((await get(url, "/api/whoami")).status).toBe(401);
    expect((await get(url, "/api/whoami", "not-a-token")).status).toBe(401);
  });

  it("without an auth token every caller may do everything, and says so", async () => {
    const url = await start({});
    expect((await get(url, "/api/whoami")).body).toEqual({
      name: "anonymous",
      scopes: ["admin"],
      auth: false,
    });
  });
});
