// `troupe mcp` driven by the official MCP client over stdio (StdioClientTransport): attached to
// a running runtime on SQLite it lists the tools and calls every one, with the token's scopes
// applied by the runtime; without a runtime it starts one from the config.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { createRuntime, MCP_TOOLS, parseRuntimeConfig, type Runtime } from "@troupe/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";

const bin = fileURLToPath(new URL("../../bin/troupe.mjs", import.meta.url));
const ROOT = "tok-8d2f6a0c4e9b1d7f3a5c8e2b6d0f4a9c";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: { increment: (ctx, by: number) => (ctx.state.count += by) },
});
const echo = createFunction(
  { id: "echo", triggers: [{ event: "app/echo" }], retries: 0 },
  async ({ event, step }) => step.run("say", () => `echo ${String(event.data.text)}`),
);

const clients: Client[] = [];
const runtimes: Runtime[] = [];
const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-mcp-cli-"));
  scratch.push(dir);
  return dir;
}

async function stdioClient(args: string[], env: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "troupe-cli-test", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [bin, "mcp", ...args],
      env: { ...(process.env as Record<string, string>), ...env },
      stderr: "pipe",
    }),
  );
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (result.content[0] as { text: string }).text;
  return { isError: result.isError === true, text };
}

// Each case spawns the CLI (tsx compiling the source); on a loaded machine that takes seconds.
describe("troupe mcp", { timeout: 120_000 }, () => {
  it("attaches to a running runtime: lists the tools and calls every one, under the token's scopes", async () => {
    const dir = tempDir();
    const registry = path.join(dir, "combiner.yaml");
    writeFileSync(
      registry,
      "dimensions:\n  strength: { use_pipeline: true, clamp_default: { min: 0, max: 100 } }\n",
    );
    const runtime = createRuntime(
      parseRuntimeConfig({
        storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
        server: { port: 0 },
        auth: { token: ROOT },
        flows: { pollIntervalMs: 20 },
        stats: { registry, systems: ["gear"], channel: `test.cli.${process.pid}` },
      }),
      {
        logger: noopLogger,
        inngest: false,
        dashboardDir: false,
        functions: [echo],
        actors: { definitions: [Counter] },
      },
    );
    runtimes.push(runtime);
    const { url } = await runtime.start();
    await fetch(`${url}/stats/actors/hero/subsystems/gear`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
      body: JSON.stringify({ primary: [{ dimension: "strength", bucket: "FLAT", value: 9 }] }),
    });

    const client = await stdioClient(["--url", url], { TROUPE_TOKEN: ROOT });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...MCP_TOOLS].sort());

    const sent = JSON.parse(
      (await call(client, "send_event", { name: "app/echo", data: { text: "hi" } })).text,
    );
    const [eventId] = sent.ids as string[];
    let runs: { id: string; status: string }[] = [];
    for (let attempt = 0; attempt < 400; attempt++) {
      runs = JSON.parse((await call(client, "list_runs", { function: "echo" })).text).data;
      if (runs[0]?.status === "completed") break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const runId = runs[0]?.id as string;
    expect(eventId).toBeDefined();
    const run = JSON.parse((await call(client, "get_run", { runId })).text).data;
    expect(run.steps[0]).toMatchObject({ id: "say", output: "echo hi" });
    expect(JSON.parse((await call(client, "rerun_run", { runId })).text).runId).toMatch(
      /^[0-9A-Z]{26}$/,
    );
    expect(JSON.parse((await call(client, "cancel_run", { runId })).text)).toEqual({
      cancelled: false,
    });
    expect(JSON.parse((await call(client, "list_functions")).text).data[0].id).toBe("echo");
    expect((await call(client, "list_actor_types")).text).toContain("Counter");
    expect(
      JSON.parse(
        (
          await call(client, "call_actor", {
            type: "Counter",
            key: "k",
            action: "increment",
            args: [4],
          })
        ).text,
      ),
    ).toEqual({ result: 4 });
    expect(
      JSON.parse((await call(client, "get_actor_state", { type: "Counter", key: "k" })).text).state,
    ).toEqual({
      count: 4,
    });
    expect(
      JSON.parse((await call(client, "resolve_stats", { actorId: "hero" })).text).snapshot.primary,
    ).toEqual({
      strength: 9,
    });
    expect(
      JSON.parse(
        (await call(client, "explain_stats", { actorId: "hero", dimension: "strength" })).text,
      ).text,
    ).toContain("gear");

    // A scoped token: the runtime applies its scopes to the relayed calls.
    const minted = await fetch(`${url}/api/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "assistant", scopes: ["runs:read"] }),
    });
    const { token } = (await minted.json()) as { token: string };
    const scoped = await stdioClient(["--url", url, "--token", token]);
    expect((await call(scoped, "list_functions")).isError).toBe(false);
    expect(
      await call(scoped, "call_actor", {
        type: "Counter",
        key: "k",
        action: "increment",
        args: [1],
      }),
    ).toEqual({
      isError: true,
      text: "Forbidden: this token lacks the scope actors:call",
    });
  });

  it("starts a runtime from the config when none answers, and serves stdio from it", async () => {
    const dir = tempDir();
    const config = path.join(dir, "troupe.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
        server: { port: 0 },
      }),
    );
    const client = await stdioClient(["-c", config]);
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(MCP_TOOLS.length);
    const sent = await call(client, "send_event", { name: "app/anything" });
    expect(sent.isError).toBe(false);
    const bad = await call(client, "send_event", { name: 42 });
    expect(bad.text).toMatch(/at name/);
  });
});
