// The MCP server at /mcp, driven by the official MCP client over streamable HTTP against a
// running runtime on SQLite: it lists every tool and calls each one, reading the results back;
// each tool refuses a token without its scope (naming it) and accepts one with it; mutating
// calls are audited; bad input answers an error naming the field; /mcp has a body limit.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { createFunction, NonRetriableError } from "@troupe/flows";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Scope } from "../src/access/scopes.js";
import { parseRuntimeConfig } from "../src/config.js";
import { MCP_TOOLS } from "../src/mcp/mcp-server.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const ROOT = "tok-5b2e8c1f7a3d9e4b6c0f2a8d1e7b3c9f";
const REGISTRY = `dimensions:
  strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
`;

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

const greet = createFunction(
  { id: "greet", triggers: [{ event: "app/greet" }], retries: 0 },
  async ({ event, step }) => {
    const hello = await step.run("hello", () => `hello ${String(event.data.who)}`);
    if (event.data.fail === true) {
      await step.run("explode", () => {
        throw new NonRetriableError("the greeting exploded");
      });
    }
    return hello;
  },
);

const runtimes: Runtime[] = [];
const clients: Client[] = [];
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-mcp-"));
  scratch.push(dir);
  const registry = path.join(dir, "combiner.yaml");
  writeFileSync(registry, REGISTRY);
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
      server: { port: 0 },
      auth: { token: ROOT },
      flows: { pollIntervalMs: 20 },
      security: { bodyLimitBytes: 64 * 1024 },
      stats: {
        registry,
        systems: ["equipment"],
        channel: `test.mcp.${Math.random().toString(36).slice(2)}`,
      },
    }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      functions: [greet],
      actors: { definitions: [Counter] },
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "troupe-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

async function mint(url: string, scopes: Scope[], name: string): Promise<string> {
  const response = await fetch(`${url}/api/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
    body: JSON.stringify({ name, scopes }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (result.content[0] as { text: string }).text;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary tool JSON by path
  const json = (): any => JSON.parse(text);
  return { isError: result.isError === true, text, json };
}

describe("MCP over streamable HTTP", () => {
  it("lists every tool and calls each one against a running runtime", async () => {
    const { runtime, url } = await start();
    const client = await connect(url, ROOT);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...MCP_TOOLS].sort());
    const callActorTool = tools.find((tool) => tool.name === "call_actor");
    expect(Object.keys(callActorTool?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["type", "key", "action", "args"]),
    );

    // Events and runs: a run with a step output, and a failed one with its step error.
    const sent = await call(client, "send_event", { name: "app/greet", data: { who: "ada" } });
    expect(sent.isError).toBe(false);
    const [eventId] = sent.json().ids as string[];
    expect(eventId).toMatch(/^[0-9A-Z]{26}$/);
    await call(client, "send_event", { name: "app/greet", data: { who: "bob", fail: true } });
    const runs = await waitFor(
      async () => (await call(client, "list_runs", { function: "greet" })).json().data,
      (data: { id: string; status: string }[]) =>
        data.length === 2 &&
        data.every((run) => run.status === "completed" || run.status === "failed"),
    );
    const done = runs.find((run) => run.status === "completed") as { id: string };
    const failed = runs.find((run) => run.status === "failed") as { id: string };
    const detail = (await call(client, "get_run", { runId: done.id })).json().data;
    expect(detail.output).toBe("hello ada");
    expect(detail.steps.find((step: { id: string }) => step.id === "hello").output).toBe(
      "hello ada",
    );
    const broken = (await call(client, "get_run", { runId: failed.id })).json().data;
    expect(broken.steps.find((step: { id: string }) => step.id === "explode").error.message).toBe(
      "the greeting exploded",
    );

    const rerun = await call(client, "rerun_run", { runId: done.id });
    expect(rerun.isError).toBe(false);
    const rerunId = rerun.json().runId as string;
    expect((await runtime.flows.waitForRun(rerunId, { timeoutMs: 10_000 })).output).toBe(
      "hello ada",
    );
    const cancelled = await call(client, "cancel_run", { runId: done.id });
    expect(cancelled.json()).toEqual({ cancelled: false }); // already completed
    const missing = await call(client, "cancel_run", { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" });
    expect(missing).toMatchObject({ isError: true });
    expect(missing.text).toContain("NOT_FOUND");

    const functions = (await call(client, "list_functions")).json().data;
    expect(functions).toEqual([
      expect.objectContaining({
        id: "greet",
        source: "in-process",
        triggers: [{ event: "app/greet" }],
      }),
    ]);

    // Actors.
    const types = (await call(client, "list_actor_types")).json().types;
    expect(types.map((type: { name: string }) => type.name)).toContain("Counter");
    const incremented = await call(client, "call_actor", {
      type: "Counter",
      key: "a",
      action: "increment",
      args: [5],
    });
    expect(incremented.json()).toEqual({ result: 5 });
    const state = (await call(client, "get_actor_state", { type: "Counter", key: "a" })).json();
    expect(state.state).toEqual({ count: 5 });

    // Stats: outputs written over HTTP, resolved and explained over MCP.
    const put = await fetch(`${url}/stats/actors/hero/subsystems/equipment`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
      body: JSON.stringify({ primary: [{ dimension: "strength", bucket: "FLAT", value: 12 }] }),
    });
    expect(put.status).toBe(200);
    const resolved = (await call(client, "resolve_stats", { actorId: "hero" })).json();
    expect(resolved.snapshot.primary).toEqual({ strength: 12 });
    const explained = (
      await call(client, "explain_stats", { actorId: "hero", dimension: "strength" })
    ).json();
    expect(explained.explanation.actorId).toBe("hero");
    expect(explained.text).toContain("equipment");
  });

  it("refuses a tool whose scope the token lacks (naming it) and accepts one with it", async () => {
    const { url } = await start();
    const probes: { tool: string; scope: Scope; args: Record<string, unknown> }[] = [
      { tool: "send_event", scope: "events:send", args: { name: "app/other" } },
      { tool: "list_runs", scope: "runs:read", args: {} },
      { tool: "get_run", scope: "runs:read", args: { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" } },
      { tool: "list_functions", scope: "runs:read", args: {} },
      { tool: "cancel_run", scope: "runs:write", args: { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" } },
      { tool: "rerun_run", scope: "runs:write", args: { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" } },
      { tool: "list_actor_types", scope: "actors:read", args: {} },
      { tool: "get_actor_state", scope: "actors:read", args: { type: "Counter", key: "s" } },
      {
        tool: "call_actor",
        scope: "actors:call",
        args: { type: "Counter", key: "s", action: "increment", args: [1] },
      },
      { tool: "resolve_stats", scope: "stats:read", args: { actorId: "nobody" } },
      {
        tool: "explain_stats",
        scope: "stats:read",
        args: { actorId: "nobody", dimension: "strength" },
      },
    ];
    expect(new Set(probes.map((probe) => probe.tool))).toEqual(new Set(MCP_TOOLS));
    const byScope = new Map<Scope, Client>();
    const stranger = await connect(url, await mint(url, ["metrics:read"], "stranger"));
    for (const probe of probes) {
      let holder = byScope.get(probe.scope);
      if (holder === undefined) {
        holder = await connect(
          url,
          await mint(url, [probe.scope], `only-${probe.scope.replace(":", "-")}`),
        );
        byScope.set(probe.scope, holder);
      }
      const refused = await call(stranger, probe.tool, probe.args);
      expect(refused, probe.tool).toMatchObject({
        isError: true,
        text: `Forbidden: this token lacks the scope ${probe.scope}`,
      });
      const accepted = await call(holder, probe.tool, probe.args);
      expect(accepted.text, probe.tool).not.toContain("Forbidden");
    }
    // Without a valid token, /mcp answers 401 before any tool runs.
    await expect(connect(url, "trp_aaaaaaaaaaaaaaaa_bad")).rejects.toThrow(/401/);
  });

  it("audits mutating tool calls with the token's name and operation, refusals included", async () => {
    const { url } = await start();
    const operator = await connect(
      url,
      await mint(url, ["actors:call", "runs:write"], "assistant"),
    );
    await call(operator, "call_actor", {
      type: "Counter",
      key: "z",
      action: "increment",
      args: [2],
    });
    await call(operator, "cancel_run", { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" });
    await call(operator, "list_functions"); // refused (runs:read), but a read: not audited
    const reader = await connect(url, await mint(url, ["runs:read"], "reader"));
    await call(reader, "rerun_run", { runId: "01JZZZZZZZZZZZZZZZZZZZZZZZ" }); // refused: audited

    const response = await fetch(`${url}/api/audit?operation=MCP*`, {
      headers: { authorization: `Bearer ${ROOT}` },
    });
    const entries = ((await response.json()) as { data: Record<string, unknown>[] }).data;
    expect(
      entries.map(({ token, operation, target, status }) => ({ token, operation, target, status })),
    ).toEqual([
      {
        token: "reader",
        operation: "MCP rerun_run",
        target: "run 01JZZZZZZZZZZZZZZZZZZZZZZZ",
        status: 403,
      },
      {
        token: "assistant",
        operation: "MCP cancel_run",
        target: "run 01JZZZZZZZZZZZZZZZZZZZZZZZ",
        status: 404,
      },
      {
        token: "assistant",
        operation: "MCP call_actor",
        target: "Counter/z/increment",
        status: 200,
      },
    ]);
    expect(
      entries.every((entry) => typeof entry.source === "string" && entry.source !== "unknown"),
    ).toBe(true);
  });

  it("answers bad tool input with an error naming the field, and limits the body", async () => {
    const { url } = await start();
    const client = await connect(url, ROOT);
    const noName = await call(client, "send_event", { data: {} });
    expect(noName.isError).toBe(true);
    expect(noName.text).toMatch(/expected an event name .*at name/);
    const badArgs = await call(client, "call_actor", {
      type: "Counter",
      key: "a",
      action: "increment",
      args: "five",
    });
    expect(badArgs.text).toMatch(/expected an array of arguments at args/);
    const unknown = await call(client, "list_runs", { limit: 1000 });
    expect(unknown.text).toMatch(/expected 1-100 at limit/);
    const badStep = await call(client, "rerun_run", { runId: "x".repeat(200) });
    expect(badStep.text).toMatch(/at runId/);

    const huge = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${ROOT}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "ping",
        params: { pad: "x".repeat(70_000) },
      }),
    });
    expect(huge.status).toBe(413);
  });
});

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await read();
    if (done(value) || attempt >= 400) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
