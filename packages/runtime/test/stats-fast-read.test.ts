// The fast read path in front of the Hono routes (GET /stats/actors/:id of an L1 snapshot) must
// answer exactly as the Hono route does. A query string sends the same read through the Hono
// chain, so each case compares the two answers over the same socket, on the same runtime, and
// `troupe_http_fast_reads_total` tells which path answered.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { ManualClock, noopLogger } from "@troupe/core";
import { hashSigningKey } from "@troupe/inngest";
import { afterEach, describe, expect, it } from "vitest";
import type { Scope } from "../src/access/scopes.js";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";
import { createStatsFastRead } from "../src/stats/stats-fast-read.js";

const ROOT = "tok-3e8b1d6f0a9c4e2b7d5f1a8c3e6b0d9f";
const REGISTRY = `dimensions:
  strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
  armor:    { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
`;

const runtimes: Runtime[] = [];
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(input: RuntimeConfigInput = {}, clock?: ManualClock) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-fast-read-"));
  scratch.push(dir);
  const registry = path.join(dir, "combiner.yaml");
  writeFileSync(registry, REGISTRY);
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: "memory:" },
      server: { port: 0 },
      ...input,
      stats: {
        registry,
        systems: ["equipment"],
        watch: false,
        channel: `test.fast.${Math.random().toString(36).slice(2)}`,
      },
    }),
    { logger: noopLogger, inngest: false, dashboardDir: false, ...(clock ? { clock } : {}) },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A raw HTTP/1.1 GET (node:http, so the Host header can be set), `date` left out. */
function get(url: string, route: string, headers: Record<string, string> = {}): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: target.hostname, port: target.port, path: route, method: "GET", headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const { date: _date, ...rest } = response.headers;
          resolve({
            status: response.statusCode ?? 0,
            headers: rest,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end();
  });
}

async function fastReads(url: string): Promise<number> {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ROOT}` } })
  ).text();
  const line = text.split("\n").find((row) => row.startsWith("troupe_http_fast_reads_total"));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

async function put(url: string, actorId: string, strength: number, token?: string) {
  const response = await fetch(`${url}/stats/actors/${actorId}/subsystems/equipment`, {
    method: "PUT",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ primary: [{ dimension: "strength", bucket: "FLAT", value: strength }] }),
  });
  expect(response.status).toBe(200);
}

async function mint(url: string, scopes: Scope[]) {
  const response = await fetch(`${url}/api/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
    body: JSON.stringify({ name: scopes.join("+"), scopes }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { token: string; info: { id: string } };
}

/** The answer of the fast path (no query) and of the Hono route (`?via=hono`) for one read. */
async function both(url: string, route: string, headers: Record<string, string> = {}) {
  const before = await fastReads(url);
  const fast = await get(url, route, headers);
  const served = (await fastReads(url)) - before;
  const hono = await get(url, `${route}?via=hono`, headers);
  expect((await fastReads(url)) - before - served).toBe(0); // the query string always falls through
  return { fast, hono, served };
}

describe("fast snapshot reads in front of the Hono routes", () => {
  it("answers an L1 hit as the Hono route does, and leaves misses, unknown actors and bad ids to it", async () => {
    const { url } = await start();
    await put(url, "hero-1", 12);

    // A miss: the fast path passes it on; the Hono route resolves and fills L1.
    const miss = await both(url, "/stats/actors/hero-1");
    expect(miss.served).toBe(0);
    expect(miss.fast.status).toBe(200);
    expect(JSON.parse(miss.fast.body).primary.strength).toBe(12);

    // A hit: answered by the fast path, byte for byte and header for header as the route does.
    const hit = await both(url, "/stats/actors/hero-1");
    expect(hit.served).toBe(1);
    expect(hit.fast).toEqual(hit.hono);
    expect(hit.fast.headers["content-type"]).toBe("application/json");
    expect(Number(hit.fast.headers["content-length"])).toBe(Buffer.byteLength(hit.fast.body));
    expect(hit.fast.body).toBe(miss.fast.body);

    // A write makes the cached snapshot stale: the next read is a miss again, never the old one.
    await put(url, "hero-1", 30);
    const after = await both(url, "/stats/actors/hero-1");
    expect(after.served).toBe(0);
    expect(JSON.parse(after.fast.body).primary.strength).toBe(30);
    expect(after.fast).toEqual(after.hono);
    expect((await both(url, "/stats/actors/hero-1")).served).toBe(1);

    for (const route of ["/stats/actors/nobody", "/stats/actors/bad!id", "/stats/actors/a%20b"]) {
      const answer = await both(url, route);
      expect(answer.served, route).toBe(0);
      expect(answer.fast, route).toEqual(answer.hono);
      expect(answer.fast.status, route).toBe(route.endsWith("nobody") ? 404 : 400);
    }
  });

  it("applies the dev-mode host check: a foreign Host gets the guard's 403, a local one the snapshot", async () => {
    const { url } = await start();
    await put(url, "hero-2", 7);
    await get(url, "/stats/actors/hero-2"); // into L1
    const refused = await both(url, "/stats/actors/hero-2", { host: "evil.example.com" });
    expect(refused.served).toBe(0);
    expect(refused.fast.status).toBe(403);
    expect(refused.fast).toEqual(refused.hono);
    const local = await both(url, "/stats/actors/hero-2", { host: "troupe.localhost:1234" });
    expect(local.served).toBe(1);
    expect(local.fast.status).toBe(200);
    expect(local.fast).toEqual(local.hono);
  });

  it("with auth: 401 without a token, 403 without stats:read, the snapshot with it or the root token", async () => {
    const { url } = await start({ auth: { token: ROOT } });
    await put(url, "hero-3", 5, ROOT);
    const reader = (await mint(url, ["stats:read"])).token;
    const runsOnly = (await mint(url, ["runs:read"])).token;
    await get(url, "/stats/actors/hero-3", { authorization: `Bearer ${ROOT}` }); // into L1

    const cases: [string, Record<string, string>, number, number][] = [
      ["no token", {}, 401, 0],
      ["a wrong token", { authorization: "Bearer tok-not-a-real-one-0000000000000" }, 401, 0],
      ["not a bearer header", { authorization: `Basic ${ROOT}` }, 401, 0],
      ["runs:read only", { authorization: `Bearer ${runsOnly}` }, 403, 0],
      ["stats:read", { authorization: `Bearer ${reader}` }, 200, 1],
      ["the root token", { authorization: `Bearer ${ROOT}` }, 200, 1],
    ];
    for (const [name, headers, status, served] of cases) {
      const answer = await both(url, "/stats/actors/hero-3", headers);
      expect(answer.fast.status, name).toBe(status);
      expect(answer.served, name).toBe(served);
      expect(answer.fast, name).toEqual(answer.hono);
    }
  });

  it("stops serving a revoked token at once, and a signing key once its window closes, as the Hono route does", async () => {
    const oldKey = `signkey-prod-${"cd34".repeat(16)}`;
    const newKey = `signkey-prod-${"ab12".repeat(16)}`;
    const until = "2026-12-06T13:00:00Z";
    const clock = new ManualClock(Date.UTC(2026, 11, 6, 12));
    const { url } = await start(
      {
        auth: { token: ROOT },
        inngest: { signingKey: newKey, signingKeyFallback: oldKey, signingKeyFallbackUntil: until },
      },
      clock,
    );
    const route = "/stats/actors/hero-5";
    const root = { authorization: `Bearer ${ROOT}` };
    await put(url, "hero-5", 4, ROOT);
    const minted = await mint(url, ["stats:read"]);
    const reader = { authorization: `Bearer ${minted.token}` };
    const oldBearer = { authorization: `Bearer ${hashSigningKey(oldKey)}` };
    const newBearer = { authorization: `Bearer ${hashSigningKey(newKey)}` };
    await get(url, route, root); // into L1
    for (const headers of [reader, oldBearer, newBearer]) {
      const answer = await both(url, route, headers);
      expect([answer.fast.status, answer.served]).toEqual([200, 1]);
      expect(answer.fast).toEqual(answer.hono);
    }

    const revoked = await fetch(`${url}/api/tokens/${minted.info.id}`, {
      method: "DELETE",
      headers: { ...root, "content-type": "application/json" },
    });
    expect(revoked.status).toBe(200);
    const afterRevoke = await both(url, route, reader);
    expect([afterRevoke.fast.status, afterRevoke.served]).toEqual([401, 0]);
    expect(afterRevoke.fast).toEqual(afterRevoke.hono);

    await clock.advanceTo(Date.parse(until));
    await get(url, route, root); // into L1 again: the clock passed the snapshot's TTL too
    const closed = await both(url, route, oldBearer);
    expect([closed.fast.status, closed.served]).toEqual([401, 0]);
    expect(closed.fast).toEqual(closed.hono);
    const current = await both(url, route, newBearer);
    expect([current.fast.status, current.served]).toEqual([200, 1]);
    expect(current.fast).toEqual(current.hono);
  });

  it("hands every read to the Hono chain while the runtime drains", async () => {
    const { runtime, url } = await start();
    await put(url, "hero-4", 9);
    await get(url, "/stats/actors/hero-4"); // into L1
    let draining = false;
    let served = 0;
    const fast = createStatsFastRead({
      service: runtime.stats as NonNullable<Runtime["stats"]>,
      draining: () => draining,
      served: () => served++,
    });
    // The fallback stands for the Hono chain, which answers 503 while draining.
    const server = createServer((request, response) =>
      fast(request, response, (_, fallback) => {
        fallback.writeHead(503, { "content-type": "text/plain" });
        fallback.end("draining");
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await get(own, "/stats/actors/hero-4")).status).toBe(200);
      expect(served).toBe(1);
      draining = true;
      const refused = await get(own, "/stats/actors/hero-4");
      expect([refused.status, refused.body]).toEqual([503, "draining"]);
      expect(served).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
