import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger, TroupeError } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { createInngestApi, hashSigningKey } from "@troupe/inngest";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type InngestApiFactory, type Runtime } from "../src/runtime.js";
import { handleShutdownSignals } from "../src/shutdown.js";

const scratch: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-runtime-"));
  scratch.push(dir);
  return dir;
}

/** A stand-in for @troupe/inngest's API: SDK routes that answer, and a recorded sync. */
function fakeInngest(synced: string[] = []): InngestApiFactory {
  return () => {
    const app = new Hono();
    app.post("/fn/register", (context) => context.json({ ok: true }));
    app.post("/e/:key", (context) => context.json({ ids: [], status: 200 }));
    app.get("/v1/runs/:id", (context) =>
      context.json({ data: { run_id: context.req.param("id") } }),
    );
    return {
      app,
      ready: async () => {},
      syncApp: async (url: string) => {
        synced.push(url);
        return { ok: true, status: 200, message: "Successfully registered", modified: true };
      },
      apps: () => [],
      signingKeys: () => [],
      handleUpgrade: () => false,
      close: async () => {},
    };
  };
}

function make(input: RuntimeConfigInput, options: Parameters<typeof createRuntime>[1] = {}) {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    { logger: noopLogger, inngest: fakeInngest(), ...options },
  );
  runtimes.push(runtime);
  return runtime;
}

describe("createRuntime HTTP surface", () => {
  it("answers /health like Inngest's dev server and /metrics in Prometheus format", async () => {
    const runtime = make({});
    const health = await runtime.app.request("/health");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 200, message: "OK" });

    await runtime.flows.send({ name: "user/created", data: {} });
    const metrics = await runtime.app.request("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await metrics.text();
    expect(text).toContain("# TYPE flows_events_total counter\nflows_events_total 1\n");
    expect(text).toContain('troupe_http_requests_total{method="GET",status="200"} 1');
    expect(text).toContain("# TYPE troupe_http_request_duration_ms histogram");
    expect(text).toContain('troupe_queue_items{state="leased"} 0');
    expect(text).toMatch(/\nprocess_resident_memory_bytes \d+\n/);
    expect(text).toContain('troupe_http_request_duration_ms_bucket{method="GET",le="+Inf"} 1');
  });

  it("mounts the Inngest API and extra route groups", async () => {
    const actors = new Hono();
    actors.get("/count", (context) => context.json({ count: 1 }));
    const runtime = make({}, { routes: [{ prefix: "/actors", app: actors }] });
    expect(await (await runtime.app.request("/actors/count")).json()).toEqual({ count: 1 });
    const sent = await runtime.app.request("/e/key", { method: "POST", body: "{}" });
    expect(await sent.json()).toEqual({ ids: [], status: 200 });
  });

  it("requires the bearer token on the API and metrics, never on SDK endpoints", async () => {
    const signingKey = "signkey-prod-0123456789abcdef";
    const runtime = make({ auth: { token: "let-me-in" }, inngest: { signingKey } });
    expect((await runtime.app.request("/metrics")).status).toBe(401);
    expect((await runtime.app.request("/v1/runs/01H")).status).toBe(401);
    const wrong = await runtime.app.request("/v1/runs/01H", {
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain("Bearer");
    const right = await runtime.app.request("/v1/runs/01H", {
      headers: { authorization: "Bearer let-me-in" },
    });
    expect(right.status).toBe(200);
    // An Inngest SDK's API client authenticates with its hashed signing key.
    const sdkClient = await runtime.app.request("/v1/runs/01H", {
      headers: { authorization: `Bearer ${hashSigningKey(signingKey)}` },
    });
    expect(sdkClient.status).toBe(200);
    expect((await runtime.app.request("/health")).status).toBe(200);
    expect((await runtime.app.request("/e/key", { method: "POST", body: "{}" })).status).toBe(200);
    expect((await runtime.app.request("/fn/register", { method: "POST", body: "{}" })).status).toBe(
      200,
    );
  });

  it("serves without auth in dev mode when no token is set", async () => {
    const runtime = make({});
    expect((await runtime.app.request("/metrics")).status).toBe(200);
  });

  it("start mode refuses to run without a signing key, an event key or an auth token, naming the field", () => {
    const config = (input: RuntimeConfigInput) =>
      parseRuntimeConfig({ storage: { url: "memory:" }, ...input });
    expect(() => createRuntime(config({}), { mode: "start", logger: noopLogger })).toThrow(
      /^inngest\.signingKey: required in start mode: set TROUPE_SIGNING_KEY/,
    );
    expect(() =>
      createRuntime(config({ inngest: { signingKey: "signkey-prod-ab" } }), {
        mode: "start",
        logger: noopLogger,
      }),
    ).toThrow(/^inngest\.eventKeys: at least one event key is required in start mode/);
    expect(() =>
      createRuntime(config({ inngest: { signingKey: "signkey-prod-ab", eventKeys: ["ek"] } }), {
        mode: "start",
        logger: noopLogger,
      }),
    ).toThrow(/^auth\.token: required in start mode: set TROUPE_AUTH_TOKEN/);
  });

  it("start mode names every missing setting in one error", () => {
    let caught: unknown;
    try {
      createRuntime(parseRuntimeConfig({ storage: { url: "memory:" } }), {
        mode: "start",
        logger: noopLogger,
      });
    } catch (error) {
      caught = error;
    }
    expect(TroupeError.isInstance(caught, "INVALID_ARGUMENT")).toBe(true);
    const error = caught as TroupeError;
    expect(error.message).toMatch(
      /^inngest\.signingKey: .*; inngest\.eventKeys: .*; auth\.token: /,
    );
    expect(error.details.missing).toEqual([
      "inngest.signingKey",
      "inngest.eventKeys",
      "auth.token",
    ]);
  });

  it("syncs the configured apps when it starts", async () => {
    const synced: string[] = [];
    const runtime = make(
      { apps: ["http://127.0.0.1:3000/api/inngest"] },
      { inngest: fakeInngest(synced) },
    );
    await runtime.start();
    await runtime.stop();
    expect(synced).toEqual(["http://127.0.0.1:3000/api/inngest"]);
    expect(runtime.appSyncStates()).toEqual([
      { url: "http://127.0.0.1:3000/api/inngest", synced: true, attempts: 1 },
    ]);
  });

  it("names the port when it is already in use", async () => {
    const first = make({});
    const { port } = await first.start();
    const second = make({ server: { port } });
    await expect(second.start()).rejects.toThrow(new RegExp(`^server\\.port: port ${port} `));
  });
});

describe("with the real Inngest API (@troupe/inngest)", () => {
  it("takes events on /e/:key and reads them back through the REST API", async () => {
    const runtime = make({}, { inngest: createInngestApi });
    await runtime.start();
    const sent = await runtime.app.request("/e/any-key", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "user/created", data: { id: 1 } }),
    });
    const body = (await sent.json()) as { ids: string[]; status: number };
    expect(body.status).toBe(200);
    expect(body.ids).toHaveLength(1);
    const read = await runtime.app.request(`/v1/events/${body.ids[0]}`);
    expect(read.status).toBe(200);
    expect(JSON.stringify(await read.json())).toContain("user/created");
  });

  it("in start mode leaves /v1 to the signing key and guards /metrics with the token", async () => {
    // Start mode takes only strong secrets: 32+ characters, 80+ bits.
    const signingKey = `signkey-prod-${"0123456789abcdef".repeat(2)}`;
    const token = "let-me-in-9f1c2a7e4b8d3f6a0c5e1b7d";
    const runtime = make(
      {
        auth: { token },
        inngest: { signingKey, eventKeys: ["ek-3b9e1f7a2c6d0e8b4f1a5c9d7e3b2a6f"] },
      },
      { inngest: createInngestApi, mode: "start" },
    );
    const withKey = { authorization: `Bearer ${hashSigningKey(signingKey)}` };
    expect((await runtime.app.request("/v1/events", { headers: withKey })).status).toBe(200);
    expect((await runtime.app.request("/v1/events")).status).toBe(401);
    expect((await runtime.app.request("/metrics", { headers: withKey })).status).toBe(200);
    expect((await runtime.app.request("/metrics")).status).toBe(401);
    const withToken = { authorization: `Bearer ${token}` };
    expect((await runtime.app.request("/metrics", { headers: withToken })).status).toBe(200);
  });
});

describe("graceful shutdown", () => {
  it("finishes the step in flight, refuses new work meanwhile, and loses nothing", async () => {
    const file = path.join(tempDir(), "troupe.db");
    let firstRuns = 0;
    let secondRuns = 0;
    let entered!: () => void;
    const stepEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = createFunction(
      { id: "slow", triggers: [{ event: "work/go" }] },
      async ({ step }) => {
        const first = await step.run("first", async () => {
          firstRuns++;
          entered();
          await gate;
          return "first done";
        });
        await step.run("second", () => {
          secondRuns++;
          return "second done";
        });
        return first;
      },
    );
    const config = { storage: { url: `sqlite:${file}` }, flows: { pollIntervalMs: 20 } };
    const runtime = make(config, { functions: [slow] });
    const { url } = await runtime.start();
    await runtime.flows.send({ name: "work/go", data: {} });
    await stepEntered;

    const stopped = runtime.stop();
    // While draining: still listening, but health says so and new work is refused.
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    const refused = await fetch(`${url}/e/key`, { method: "POST", body: "{}" });
    expect(refused.status).toBe(503);
    release();
    await stopped;
    await expect(fetch(`${url}/health`)).rejects.toThrow();

    // A new process on the same file: no lease left behind, the run completes, the in-flight
    // step's result was kept (it did not run again).
    const restarted = make(config, { functions: [slow] });
    expect((await restarted.storage.queue.counts()).leased).toBe(0);
    await restarted.flows.runDue();
    const [run] = await restarted.flows.listRuns({ functionId: "slow" });
    expect(run?.status).toBe("completed");
    expect((await restarted.flows.getRun(run?.id ?? ""))?.output).toBe("first done");
    expect(firstRuns).toBe(1);
    expect(secondRuns).toBe(1);
  });
});

describe("handleShutdownSignals", () => {
  it("stops gracefully on the first signal and exits 0", async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let stops = 0;
    handleShutdownSignals({
      target,
      logger: noopLogger,
      stop: async () => {
        stops++;
      },
      exit: (code) => exits.push(code),
    });
    target.emit("SIGTERM");
    await new Promise((resolve) => setImmediate(resolve));
    expect(stops).toBe(1);
    expect(exits).toEqual([0]);
  });

  it("forces exit 1 on a second signal while stopping", async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let finish!: () => void;
    handleShutdownSignals({
      target,
      logger: noopLogger,
      stop: () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
      exit: (code) => exits.push(code),
    });
    target.emit("SIGINT");
    target.emit("SIGINT");
    expect(exits).toEqual([1]);
    finish();
  });

  it("removes its handlers when disposed", () => {
    const target = new EventEmitter();
    const dispose = handleShutdownSignals({
      target,
      logger: noopLogger,
      stop: async () => {},
      exit: () => {},
    });
    expect(target.listenerCount("SIGTERM")).toBe(1);
    dispose();
    expect(target.listenerCount("SIGTERM")).toBe(0);
  });
});
