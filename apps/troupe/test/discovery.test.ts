import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DISCOVERY_PORTS } from "@troupe/runtime";
import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { afterEach, describe, expect, it } from "vitest";

// `troupe dev` with discovery on (the default) and no -u, and an official SDK app serving at
// /api/inngest on one of the common ports: the server finds the app, syncs it and runs its
// function for an event; an event no function takes is logged.

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const silent = { info() {}, warn() {}, error() {}, debug() {} };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Listens on the first common port that is free here (other programs may hold some). */
async function listenOnCommonPort(server: Server): Promise<number> {
  for (const port of DISCOVERY_PORTS) {
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (listening) return port;
  }
  throw new Error(`every common port is taken: ${DISCOVERY_PORTS.join(", ")}`);
}

function startTroupeDev(args: string[]): {
  child: ChildProcess;
  output: () => string;
  url: Promise<string>;
} {
  const cwd = mkdtempSync(path.join(os.tmpdir(), "troupe-discovery-"));
  // A short interval keeps the test quick; the default is 5 s.
  writeFileSync(
    path.join(cwd, "troupe.config.json"),
    JSON.stringify({ storage: { url: "sqlite::memory:" }, appSyncIntervalMs: 200 }),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("TROUPE_")) env[name] = value;
  }
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsx,
      "--conditions=source",
      main,
      "dev",
      "-p",
      "0",
      "-c",
      "troupe.config.json",
      ...args,
    ],
    { cwd, env },
  );
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  });
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /troupe dev — (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => reject(new Error(`troupe dev exited:\n${output}`)));
  });
  return { child, output: () => output, url };
}

describe("troupe dev app discovery", () => {
  it("finds an SDK app on a common port without -u, and runs its function", async () => {
    const dev = startTroupeDev([]);
    const url = await dev.url;
    expect(dev.output()).toContain("discovery on: ports 3000, 3030");

    const client = new Inngest({ id: "discovered-app", baseUrl: url, isDev: true, logger: silent });
    const greet = client.createFunction(
      { id: "greet", triggers: [{ event: "demo/discovered" }] },
      async ({ event, step }) => step.run("greeting", () => `Hello, ${String(event.data.name)}!`),
    );
    const app = createServer(serve({ client, functions: [greet] }));
    const port = await listenOnCommonPort(app);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          app.closeAllConnections();
          app.close(() => resolve());
        }),
    );
    const appUrl = `http://127.0.0.1:${port}/api/inngest`;

    await waitFor(
      () => dev.output().includes("app discovered and synced") && dev.output().includes(appUrl),
      {
        timeoutMs: 15_000,
        what: `troupe dev to log the app at ${appUrl} as discovered`,
      },
    );
    const probe = (await (await fetch(`${url}/dev`)).json()) as { functions: { id: string }[] };
    expect(probe.functions.map((fn) => fn.id)).toContain("discovered-app-greet");

    const sent = await fetch(`${url}/e/any-key`, {
      method: "POST",
      body: JSON.stringify({ name: "demo/discovered", data: { name: "Ada" } }),
    });
    const [eventId] = ((await sent.json()) as { ids: string[] }).ids;
    let run: { status: string; output: unknown } | undefined;
    await waitFor(
      async () => {
        const response = await fetch(`${url}/v1/events/${eventId}/runs`);
        run = ((await response.json()) as { data: { status: string; output: unknown }[] }).data[0];
        return run !== undefined && run.status !== "Running";
      },
      { timeoutMs: 15_000, what: "the discovered app's run to finish" },
    );
    expect(run).toMatchObject({ status: "Completed", output: "Hello, Ada!" });

    // An event that no function takes says so in the log.
    await fetch(`${url}/e/any-key`, {
      method: "POST",
      body: JSON.stringify({ name: "demo/nobody-listens", data: {} }),
    });
    await waitFor(
      () =>
        dev.output().includes("matched no function") &&
        dev.output().includes("demo/nobody-listens"),
      {
        timeoutMs: 10_000,
        what: "the log line for an event no function takes",
      },
    );
  });

  it("does not probe with --no-discovery", async () => {
    const dev = startTroupeDev(["--no-discovery"]);
    await dev.url;
    expect(dev.output()).toContain("discovery off");
    expect(dev.output()).not.toContain("discovery on");
  });
});
