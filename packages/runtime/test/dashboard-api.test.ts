import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock, noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { compileRegistry, parseCombinerRegistry, parseLayerRegistry } from "@troupe/stats";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { findDashboardDir } from "../src/dashboard-static.js";
import { createRuntime, type Runtime, type RuntimeOptions } from "../src/runtime.js";

const runtimes: Runtime[] = [];
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const greet = createFunction(
  { id: "greet", triggers: [{ event: "user/created" }], retries: 0 },
  async ({ event, step }) => {
    const name = await step.run("name", () => String(event.data.name ?? "nobody"));
    await step.sleep("pause", "1m");
    return step.run("shout", () => `HELLO ${name.toUpperCase()}`);
  },
);
const nightly = createFunction({ id: "nightly", triggers: [{ cron: "0 3 * * *" }] }, async () => 1);

function make(input: RuntimeConfigInput = {}, options: RuntimeOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 11, 1));
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    {
      logger: noopLogger,
      clock,
      functions: [greet, nightly],
      dashboardDir: false,
      ...options,
    },
  );
  runtimes.push(runtime);
  return { runtime, clock };
}

async function call(
  runtime: Runtime,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await runtime.app.request(url, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("dashboard API: runs", () => {
  it("lists runs newest first, filters by function and status, and pages with a cursor", async () => {
    const { runtime, clock } = make();
    for (let index = 0; index < 7; index++) {
      await runtime.flows.send({ name: "user/created", data: { name: `user${index}` } });
      await clock.advance(index % 2 === 0 ? 0 : 5); // several runs share a millisecond
    }
    await runtime.flows.runDue();

    const first = await call(runtime, "GET", "/api/runs?limit=3");
    expect(first.status).toBe(200);
    const all = await call(runtime, "GET", "/api/runs?limit=100");
    const ids = (all.body.data as { id: string }[]).map((run) => run.id);
    expect(ids).toHaveLength(7);
    expect([...ids].sort().reverse()).toEqual(ids);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { id: string }[]; nextCursor: string | null } } = (await call(
        runtime,
        "GET",
        `/api/runs?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      )) as never;
      seen.push(...page.body.data.map((run) => run.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);

    const sleeping = await call(runtime, "GET", "/api/runs?function=greet&status=running,queued");
    expect((sleeping.body.data as unknown[]).length).toBe(7);
    const none = await call(runtime, "GET", "/api/runs?function=nightly");
    expect(none.body.data).toEqual([]);
    const completed = await call(runtime, "GET", "/api/runs?status=completed");
    expect(completed.body.data).toEqual([]);
  });

  it("names the bad query field", async () => {
    const { runtime } = make();
    const badStatus = await call(runtime, "GET", "/api/runs?status=done");
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error).toMatchObject({
      code: "INVALID_ARGUMENT",
      field: "query.status[0]",
    });
    const badLimit = await call(runtime, "GET", "/api/runs?limit=0");
    expect(badLimit.body.error).toMatchObject({ field: "query.limit" });
    const badTime = await call(runtime, "GET", "/api/runs?from=yesterday");
    expect(badTime.status).toBe(400);
    expect((badTime.body.error as { message: string }).message).toMatch(/^query\.from: /);
    const badCursor = await call(runtime, "GET", "/api/events?cursor=abc");
    expect(badCursor.body.error).toMatchObject({ field: "query.cursor" });
  });

  it("shows a run's step timeline, cancels one run and reruns another from a step", async () => {
    const { runtime, clock } = make();
    const { ids } = await runtime.flows.send([
      { name: "user/created", data: { name: "ada" } },
      { name: "user/created", data: { name: "bob" } },
    ]);
    await runtime.flows.runDue();
    await clock.advance(60_000);
    await runtime.flows.runDue();
    const [ada] = (await runtime.flows.getEventRuns(ids[0] ?? "")).runs;
    const detail = await call(runtime, "GET", `/api/runs/${ada?.id}`);
    expect(detail.status).toBe(200);
    const run = detail.body.data as {
      status: string;
      output: string;
      steps: { id: string; op: string; status: string; durationMs: number | null }[];
    };
    expect(run.status).toBe("completed");
    expect(run.output).toBe("HELLO ADA");
    expect(run.steps.map((step) => [step.id, step.op])).toEqual([
      ["name", "run"],
      ["pause", "sleep"],
      ["shout", "run"],
    ]);
    expect(run.steps[1]?.durationMs).toBe(60_000);

    const rerun = await call(runtime, "POST", `/api/runs/${ada?.id}/rerun`, { fromStep: "shout" });
    expect(rerun.status).toBe(200);
    await runtime.flows.runDue();
    const again = await runtime.flows.getRun(rerun.body.runId as string);
    expect(again?.rerunOf).toBe(ada?.id);
    expect(again?.output).toBe("HELLO ADA");

    const badStep = await call(runtime, "POST", `/api/runs/${ada?.id}/rerun`, { fromStep: "nope" });
    expect(badStep.status).toBe(400);
    expect(badStep.body.error).toMatchObject({ field: "body.fromStep" });

    await runtime.flows.send({ name: "user/created", data: { name: "cy" } });
    await runtime.flows.runDue();
    const [sleeping] = await runtime.flows.listRuns({ status: "running", functionId: "greet" });
    const cancel = await call(runtime, "POST", `/api/runs/${sleeping?.id}/cancel`, {});
    expect(cancel.body).toEqual({ cancelled: true });
    expect((await runtime.flows.getRun(sleeping?.id ?? ""))?.status).toBe("cancelled");
    const twice = await call(runtime, "POST", `/api/runs/${sleeping?.id}/cancel`, {});
    expect(twice.body).toEqual({ cancelled: false });

    const missing = await call(runtime, "GET", "/api/runs/01KNOWNNOTHING0000000000000");
    expect(missing.status).toBe(404);
  });
});

describe("dashboard API: events, functions and apps", () => {
  it("sends, lists, shows and replays events", async () => {
    const { runtime } = make();
    const sent = await call(runtime, "POST", "/api/events", {
      name: "user/created",
      data: { name: "eve" },
    });
    expect(sent.status).toBe(200);
    const [id] = sent.body.ids as string[];
    const listed = await call(runtime, "GET", "/api/events?name=user/created");
    expect((listed.body.data as { id: string }[]).map((event) => event.id)).toEqual([id]);
    const detail = await call(runtime, "GET", `/api/events/${id}`);
    expect(detail.body.data).toMatchObject({ name: "user/created", data: { name: "eve" } });
    expect((detail.body.runs as { functionId: string }[]).map((run) => run.functionId)).toEqual([
      "greet",
    ]);
    const replay = await call(runtime, "POST", `/api/events/${id}/replay`);
    const [copy] = replay.body.ids as string[];
    expect(copy).not.toBe(id);
    expect((await runtime.flows.getEvent(copy ?? ""))?.data).toEqual({ name: "eve" });
    const bad = await call(runtime, "POST", "/api/events", { data: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: "body.name" });
    const badJson = await runtime.app.request("/api/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(badJson.status).toBe(400);
  });

  it("lists functions with triggers and flow control, and invokes one with a payload", async () => {
    const { runtime } = make();
    const functions = await call(runtime, "GET", "/api/functions");
    expect(functions.body.data).toEqual([
      expect.objectContaining({
        id: "greet",
        source: "in-process",
        triggers: [{ event: "user/created" }],
      }),
      expect.objectContaining({ id: "nightly", triggers: [{ cron: "0 3 * * *" }] }),
    ]);
    const one = await call(runtime, "GET", "/api/functions/greet");
    expect(one.body.flowControl).toMatchObject({ concurrency: [], debounces: [], batches: [] });
    const invoked = await call(runtime, "POST", "/api/functions/greet/invoke", {
      data: { name: "ivy" },
    });
    expect(invoked.body).toMatchObject({ event: "inngest/function.invoked" });
    expect((invoked.body.runs as unknown[]).length).toBe(1);
    // A cron-only function can be invoked too: the invoke event is routed to it alone.
    const cronOnly = await call(runtime, "POST", "/api/functions/nightly/invoke", { data: {} });
    expect(cronOnly.status).toBe(200);
    expect(cronOnly.body.runs).toEqual([expect.objectContaining({ functionId: "nightly" })]);
    const missing = await call(runtime, "POST", "/api/functions/none/invoke", { data: {} });
    expect(missing.status).toBe(404);
    expect((await call(runtime, "GET", "/api/functions/none")).status).toBe(404);
    expect((await call(runtime, "GET", "/api/apps")).body).toEqual({ data: [] });
  });

  it("syncs an app by URL through the Inngest API, naming a bad URL", async () => {
    const { runtime } = make();
    const bad = await call(runtime, "POST", "/api/apps/sync", { url: "not a url" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: "body.url" });
    // Nothing listens on port 9 of loopback: the sync reports the failure, it does not throw.
    const down = await call(runtime, "POST", "/api/apps/sync", {
      url: "http://127.0.0.1:9/api/inngest",
    });
    expect(down.status).toBe(502);
    expect(down.body.ok).toBe(false);
  });
});

describe("dashboard API: stats, actors and auth", () => {
  // The Actor Core v3 golden vectors and sample registry, kept in the stats package.
  const statsRoot = fileURLToPath(new URL("../../stats/", import.meta.url));
  const vector = path.join(statsRoot, "test", "golden", "case02_realm_world_total");
  if (!existsSync(vector)) {
    throw new Error(`Actor Core v3 golden data not found at ${vector}`);
  }
  const registry = readFileSync(path.join(statsRoot, "examples", "Registry.example.yml"), "utf8");

  it("resolves and explains a pasted input with a pasted registry", async () => {
    const { runtime } = make();
    const input = readFileSync(path.join(vector, "subsystems.json"), "utf8");
    const layersFile = path.join(vector, "cap_layer_registry.json");
    const layers = existsSync(layersFile) ? readFileSync(layersFile, "utf8") : undefined;
    const expected = JSON.parse(readFileSync(path.join(vector, "expected.json"), "utf8"));
    const resolved = await call(runtime, "POST", "/api/stats/resolve", {
      registry,
      ...(layers ? { layers } : {}),
      input,
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body.snapshot).toEqual(expected);
    const dimension = Object.keys(expected.Primary)[0] as string;
    const explained = await call(runtime, "POST", "/api/stats/explain", {
      registry,
      ...(layers ? { layers } : {}),
      input,
      dimension,
    });
    expect(explained.status).toBe(200);
    expect(explained.body.explanation).toMatchObject({ dimension });
    expect(explained.body.text).toContain(dimension);

    const { runtime: configured } = make(
      {},
      {
        stats: {
          registry: compileRegistry(
            parseCombinerRegistry(registry),
            layers ? parseLayerRegistry(layers) : undefined,
          ),
        },
      },
    );
    const withConfigured = await call(configured, "POST", "/api/stats/resolve", { input });
    expect(withConfigured.body.snapshot).toEqual(expected);

    const noRegistry = await call(runtime, "POST", "/api/stats/resolve", { input });
    expect(noRegistry.status).toBe(400);
    expect(noRegistry.body.error).toMatchObject({ field: "body.registry" });
    const badInput = await call(runtime, "POST", "/api/stats/resolve", { registry, input: "[{}]" });
    expect(badInput.status).toBe(400);
    expect((badInput.body.error as { message: string }).message).toContain("body.input");
  });

  it("answers 501 for actors until an actor system is configured", async () => {
    const { runtime } = make();
    const none = await call(runtime, "GET", "/api/actors/types");
    expect(none.status).toBe(501);
    expect((none.body.error as { message: string }).message).toMatch(/no actor system/);
    const actorsApp = new Hono();
    actorsApp.get("/types", (context) => context.json({ data: ["Counter"] }));
    const { runtime: withActors } = make({}, { actors: { app: actorsApp } });
    expect((await call(withActors, "GET", "/api/actors/types")).body).toEqual({
      data: ["Counter"],
    });
  });

  it("requires the runtime's token when one is configured", async () => {
    const { runtime } = make({ auth: { token: "s3cret" } });
    expect((await call(runtime, "GET", "/api/runs")).status).toBe(401);
    const ok = await call(runtime, "GET", "/api/info", undefined, {
      authorization: "Bearer s3cret",
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ auth: true, actors: false });
  });
});

describe("dashboard static files", () => {
  it("serves the built dashboard before auth, falls back to index.html for its routes, never for the API", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-dashboard-"));
    scratch.push(dir);
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Troupe</title>");
    const { runtime } = make({ auth: { token: "s3cret" } }, { dashboardDir: dir });
    const index = await runtime.app.request("/");
    expect(index.status).toBe(200);
    expect(await index.text()).toContain("<title>Troupe</title>");
    const deep = await runtime.app.request("/runs/01ABC", { headers: { accept: "text/html" } });
    expect(deep.status).toBe(200);
    expect(deep.headers.get("content-type")).toContain("text/html");
    const api = await runtime.app.request("/api/runs", { headers: { accept: "text/html" } });
    expect(api.status).toBe(401);
    const traversal = await runtime.app.request("/..%2f..%2fetc%2fpasswd");
    expect(traversal.status).toBe(401);
  });

  it("finds a built dashboard upwards from a start path, and caches hashed assets for good", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "troupe-dashboard-find-"));
    scratch.push(root);
    const start = path.join(root, "packages", "runtime", "dist", "index.js");
    expect(findDashboardDir(start)).toBeUndefined();
    const dist = path.join(root, "apps", "dashboard", "dist");
    mkdirSync(path.join(dist, "assets"), { recursive: true });
    writeFileSync(path.join(dist, "index.html"), "<!doctype html>");
    writeFileSync(path.join(dist, "assets", "index-abc.js"), "export {};");
    expect(findDashboardDir(start)).toBe(dist);

    const { runtime } = make({}, { dashboardDir: dist });
    const asset = await runtime.app.request("/assets/index-abc.js");
    expect(asset.headers.get("content-type")).toContain("text/javascript");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    const head = await runtime.app.request("/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await runtime.app.request("/index.html")).headers.get("cache-control")).toBe(
      "no-cache",
    );
  });
});
