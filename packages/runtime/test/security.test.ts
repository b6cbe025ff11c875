import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { noopLogger } from "@troupe/core";
import { createInngestApi, hashSigningKey } from "@troupe/inngest";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { loadRuntimeConfig, parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime, type RuntimeOptions } from "../src/runtime.js";

// Strong enough for start mode: 32+ random-looking characters.
const TOKEN = "tok-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e";
const EVENT_KEY = "ek-3b9e1f7a2c6d0e8b4f1a5c9d7e3b2a6f";
const SIGNING_KEY = `signkey-prod-${"7c1e9a3f5b2d8e4a6f0c1b9d3e7a5f2c".repeat(2)}`;
const START: RuntimeConfigInput = {
  auth: { token: TOKEN },
  inngest: { signingKey: SIGNING_KEY, eventKeys: [EVENT_KEY] },
};
const withToken = { authorization: `Bearer ${TOKEN}` };

const runtimes: Runtime[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  await Promise.all(
    servers
      .splice(0)
      .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
});

function make(input: RuntimeConfigInput, options: RuntimeOptions = {}): Runtime {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    { logger: noopLogger, inngest: createInngestApi, dashboardDir: false, ...options },
  );
  runtimes.push(runtime);
  return runtime;
}

/** A plain HTTP server standing for something on the server's network; it records each hit. */
async function listen(
  handler: (
    request: IncomingMessage,
    respond: (status: number, body: string, headers?: Record<string, string>) => void,
  ) => void,
): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    request.resume();
    handler(request, (status, body, headers = {}) => response.writeHead(status, headers).end(body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

const json = { "content-type": "application/json" };

describe("app sync by URL (finding 2: SSRF)", () => {
  it("in start mode contacts no URL outside apps and the allowlist, and says nothing of it", async () => {
    const internal = await listen((_request, respond) => respond(200, "internal admin page"));
    const runtime = make(START, { mode: "start" });
    const response = await runtime.app.request("/api/apps/sync", {
      method: "POST",
      headers: { ...withToken, ...json },
      body: JSON.stringify({ url: `${internal.url}/admin` }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({
      error: { code: "FORBIDDEN", field: "body.url" },
    });
    expect(internal.hits).toEqual([]);
  });

  it("follows no redirect from an allowed URL and answers every failure alike", async () => {
    const internal = await listen((_request, respond) => respond(200, "secret internal data"));
    const redirecting = await listen((_request, respond) =>
      respond(307, "", { location: `${internal.url}/admin` }),
    );
    const closed = await listen((_request, respond) => respond(404, "no such page"));
    const runtime = make(
      { ...START, security: { appSyncAllowlist: [redirecting.url, closed.url] } },
      { mode: "start" },
    );
    const sync = async (url: string) => {
      const response = await runtime.app.request("/api/apps/sync", {
        method: "POST",
        headers: { ...withToken, ...json },
        body: JSON.stringify({ url }),
      });
      return { status: response.status, body: await response.json() };
    };
    const redirected = await sync(`${redirecting.url}/api/inngest`);
    const notFound = await sync(`${closed.url}/api/inngest`);
    expect(redirecting.hits).toHaveLength(1);
    expect(internal.hits).toEqual([]);
    expect(redirected).toEqual(notFound);
    expect(redirected).toEqual({
      status: 502,
      body: {
        ok: false,
        status: 502,
        message: "the app did not sync (the server log has why)",
        modified: false,
      },
    });
  });

  it("in dev never echoes what a non-SDK server answered", async () => {
    const internal = await listen((_request, respond) => respond(500, "db password is hunter2"));
    const runtime = make({});
    const response = await runtime.app.request("/api/apps/sync", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ url: `${internal.url}/api/inngest` }),
    });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(text).not.toContain("hunter2");
    expect(JSON.parse(text)).toMatchObject({
      ok: false,
      message: "HTTP 500: not an Inngest SDK's answer",
    });
  });
});

describe("dev mode against web pages (finding 3: cross-site requests, DNS rebinding)", () => {
  it("refuses a cross-site browser request and a text/plain body on the API", async () => {
    const runtime = make({});
    const crossSite = await runtime.app.request("http://127.0.0.1:8288/api/events", {
      method: "POST",
      headers: { origin: "https://evil.example", ...json },
      body: JSON.stringify({ name: "evil/event" }),
    });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.json()).toMatchObject({ error: { code: "FORBIDDEN", field: "origin" } });
    const plain = await runtime.app.request("http://127.0.0.1:8288/api/events", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ name: "evil/event" }),
    });
    expect(plain.status).toBe(415);
    const formActor = await runtime.app.request(
      "http://127.0.0.1:8288/actors/Counter/a/increment",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "args=1",
      },
    );
    expect(formActor.status).toBe(415);
    const syncFromPage = await runtime.app.request("http://127.0.0.1:8288/e/any", {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "text/plain" },
      body: JSON.stringify({ name: "evil/event" }),
    });
    expect(syncFromPage.status).toBe(403);
    expect((await runtime.flows.listEvents({ limit: 10 })).map((event) => event.name)).toEqual([]);
  });

  it("refuses a rebound host name, even for reads", async () => {
    const runtime = make({});
    const rebound = await runtime.app.request("http://attacker.example:8288/api/events");
    expect(rebound.status).toBe(403);
    expect(await rebound.json()).toMatchObject({ error: { field: "host" } });
    expect((await runtime.app.request("http://attacker.example:8288/dev")).status).toBe(403);
  });

  it("lets the dashboard, SDKs (no Origin, text/plain events) and allowed names through", async () => {
    const runtime = make({ security: { allowedHosts: ["troupe.test"] } });
    const dashboard = await runtime.app.request("http://127.0.0.1:8288/api/events", {
      method: "POST",
      headers: { origin: "http://127.0.0.1:8288", ...json },
      body: JSON.stringify({ name: "ui/event" }),
    });
    expect(dashboard.status).toBe(200);
    const sdk = await runtime.app.request("http://localhost:8288/e/key", {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8" },
      body: JSON.stringify({ name: "sdk/event", data: {} }),
    });
    expect(sdk.status).toBe(200);
    for (const host of ["host.docker.internal", "troupe", "10.0.0.5", "[::1]", "troupe.test"]) {
      expect((await runtime.app.request(`http://${host}:8288/api/events`)).status, host).toBe(200);
    }
  });
});

describe("body limits and list bounds (finding 4)", () => {
  it("answers 413 past each route's limit, with or without a Content-Length", async () => {
    const reports = new Hono();
    reports.post("/x", async (context) =>
      context.json({ length: (await context.req.text()).length }),
    );
    const runtime = make({}, { routes: [{ prefix: "/reports", app: reports }] });
    const big = JSON.stringify({ name: "big/event", data: { blob: "x".repeat(1_100_000) } });
    const api = await runtime.app.request("/api/events", {
      method: "POST",
      headers: json,
      body: big,
    });
    expect(api.status).toBe(413);
    expect(await api.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE", field: "body" } });
    const event = JSON.stringify({ name: "big/event", data: { blob: "x".repeat(600_000) } });
    const sent = await runtime.app.request("/e/key", { method: "POST", body: event });
    expect(sent.status).toBe(413);
    expect(await sent.json()).toMatchObject({ ids: [], status: 413 });
    expect((await runtime.app.request("/reports/x", { method: "POST", body: big })).status).toBe(
      413,
    );
    const small = JSON.stringify({ name: "ok/event", data: { blob: "x".repeat(400_000) } });
    expect((await runtime.app.request("/e/key", { method: "POST", body: small })).status).toBe(200);
    expect((await runtime.flows.listEvents({ limit: 10 })).map((stored) => stored.name)).toEqual([
      "ok/event",
    ]);

    // A streamed body declares no length: it is cut off at the limit.
    const { url } = await runtime.start();
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sentChunks = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sentChunks++ < 32) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await fetch(`${url}/reports/x`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("takes its limits from the config", async () => {
    const runtime = make({ security: { eventBodyLimitBytes: 2 * 1024 * 1024 } });
    const event = JSON.stringify({ name: "big/event", data: { blob: "x".repeat(600_000) } });
    expect((await runtime.app.request("/e/key", { method: "POST", body: event })).status).toBe(200);
  });

  it("pages a list by bytes as well as by count, and the cursor reaches every item once", async () => {
    const runtime = make({ security: { listLimitBytes: 1024 * 1024 } });
    const sentIds: string[] = [];
    for (let index = 0; index < 5; index++) {
      const { ids } = await runtime.flows.send({
        name: "big/event",
        data: { index, blob: "x".repeat(300_000) },
      });
      sentIds.push(...ids);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await runtime.app.request(
        `/api/events?limit=50${cursor ? `&cursor=${cursor}` : ""}`,
      );
      const text = await response.text();
      expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024 + 2048);
      const page = JSON.parse(text) as { data: { id: string }[]; nextCursor: string | null };
      seen.push(...page.data.map((item) => item.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual([...sentIds].reverse());
  });
  it("bounds the REST event list (/v1/events) the same way, with its cursor", async () => {
    const runtime = make({ security: { listLimitBytes: 1024 * 1024 } });
    const sentIds: string[] = [];
    for (let index = 0; index < 5; index++) {
      const { ids } = await runtime.flows.send({
        name: "big/event",
        data: { index, blob: "x".repeat(300_000) },
      });
      sentIds.push(...ids);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await runtime.app.request(
        `/v1/events?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      );
      const text = await response.text();
      expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024 + 2048);
      const page = JSON.parse(text) as { data: { internal_id: string }[]; cursor?: string };
      seen.push(...page.data.map((item) => item.internal_id));
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual([...sentIds].reverse());
  });
});

describe("start mode defaults (findings 5 and 6)", () => {
  it("binds loopback unless configured, and says where it is bound", async () => {
    const runtime = make(START, { mode: "start" });
    const address = await runtime.start();
    expect(address.host).toBe("127.0.0.1");
    expect((await fetch(`http://127.0.0.1:${address.port}/health`)).status).toBe(200);
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((entry) => entry && entry.family === "IPv4" && !entry.internal)?.address;
    if (external !== undefined) {
      await expect(fetch(`http://${external}:${address.port}/health`)).rejects.toThrow();
    }
  });

  it("refuses weak secrets, naming the setting", () => {
    expect(() => make({ ...START, auth: { token: "x" } }, { mode: "start" })).toThrow(
      /^auth\.token: too weak for start mode \(1 characters/,
    );
    expect(() =>
      make(
        { ...START, inngest: { signingKey: SIGNING_KEY, eventKeys: ["ek"] } },
        { mode: "start" },
      ),
    ).toThrow(/^inngest\.eventKeys\.0: too weak/);
    expect(() =>
      make(
        {
          ...START,
          inngest: { signingKey: "signkey-prod-0123456789abcdef", eventKeys: [EVENT_KEY] },
        },
        { mode: "start" },
      ),
    ).toThrow(/^inngest\.signingKey: too weak/);
  });
});

describe("start mode's SDK surface and malformed input (finding 8)", () => {
  it("answers /dev only to the signing key's holder in start mode", async () => {
    const runtime = make(START, { mode: "start" });
    expect((await runtime.app.request("/dev")).status).toBe(401);
    const sdk = { authorization: `Bearer ${hashSigningKey(SIGNING_KEY)}` };
    expect((await runtime.app.request("/dev", { headers: sdk })).status).toBe(200);
  });

  it("answers 400 naming the problem for 100,000-deep JSON and a lone-surrogate name", async () => {
    const runtime = make({});
    const deep = `{"name":"a","data":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    for (const path of ["/e/key", "/api/events"]) {
      const response = await runtime.app.request(path, {
        method: "POST",
        headers: json,
        body: deep,
      });
      expect(response.status, path).toBe(400);
      expect(await response.text(), path).toContain("body: JSON nested deeper than 512 levels");
    }
    const lone = '{"name":"\\ud800x","data":{}}';
    const event = await runtime.app.request("/e/key", {
      method: "POST",
      headers: json,
      body: lone,
    });
    expect(event.status).toBe(400);
    expect(((await event.json()) as { error: string }).error).toMatch(
      /^event\.name: expected well-formed Unicode text/,
    );
    const api = await runtime.app.request("/api/events", {
      method: "POST",
      headers: json,
      body: lone,
    });
    expect(api.status).toBe(400);
    expect(await api.json()).toMatchObject({ error: { field: "body.name" } });
  });
});

describe("security settings", () => {
  it("are validated with the field named, and read from the environment", async () => {
    expect(() => parseRuntimeConfig({ security: { bodyLimitBytes: 10 } })).toThrow(
      /^security\.bodyLimitBytes: expected at least 1024 bytes/,
    );
    expect(() => parseRuntimeConfig({ security: { allowedOrigins: ["evil"] } })).toThrow(
      /^security\.allowedOrigins\.0: /,
    );
    expect(() => parseRuntimeConfig({ security: { appSyncAllowlist: ["ftp://x"] } })).toThrow(
      /^security\.appSyncAllowlist\.0: expected an http/,
    );
    const config = await loadRuntimeConfig({
      env: {
        TROUPE_ALLOWED_HOSTS: "troupe.test, tunnel.example.com",
        TROUPE_ALLOWED_ORIGINS: "https://tools.example.com",
        TROUPE_STORAGE_SYNCHRONOUS: "full",
      },
    });
    expect(config.security.allowedHosts).toEqual(["troupe.test", "tunnel.example.com"]);
    expect(config.security.allowedOrigins).toEqual(["https://tools.example.com"]);
    expect(config.storage.synchronous).toBe("full");
    expect(config.security.bodyLimitBytes).toBe(1024 * 1024);
    expect(config.security.eventBodyLimitBytes).toBe(512 * 1024);
  });
});
