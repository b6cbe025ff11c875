import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { serve } from "inngest/node";
import type { Browser, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBrowser } from "./browser.js";

// The walk-through as a user does it: the real `troupe dev` CLI (a separate process, fresh
// ./.troupe in a temporary folder) syncs a sample app built with the official Inngest SDK, and the
// dashboard it serves is driven in Debian's Chromium through playwright-core.

const appDir = fileURLToPath(new URL("..", import.meta.url));
const distDir = path.join(appDir, "dist");
const bin = fileURLToPath(new URL("../../troupe/bin/troupe.mjs", import.meta.url));
// Screenshots prove the pages render; they go to a temporary folder so a run leaves the tree clean.
const screenshots = path.join(os.tmpdir(), `troupe-dev-e2e-screenshots-${process.pid}`);

/** The sample app: two functions served over HTTP with the Inngest SDK, pointed at `troupeUrl`. */
function sampleHandler(troupeUrl: string) {
  const silent = { info() {}, warn() {}, error() {}, debug() {} };
  const client = new Inngest({ id: "sample", baseUrl: troupeUrl, isDev: true, logger: silent });
  const greet = client.createFunction(
    { id: "greet", triggers: [{ event: "sample/greet" }] },
    async ({ event, step }) => {
      const name = await step.run("load-user", () => String(event.data.name ?? "nobody"));
      return step.run("compose", () => `Hello, ${name}!`);
    },
  );
  const slow = client.createFunction(
    { id: "slow", triggers: [{ event: "sample/slow" }] },
    async ({ step }) => {
      await step.run("prepare", () => "ready");
      await step.sleep("nap", "1h");
      return "woke up";
    },
  );
  return serve({ client, functions: [greet, slow] });
}

/** Environment without TROUPE_* variables from the developer's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("TROUPE_")) env[name] = value;
  }
  return env;
}

let cwd: string;
let appServer: Server | undefined;
let cli: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
let output = "";
let url: string;
let browser: Browser | undefined;
let page: Page;

beforeAll(async () => {
  // `pnpm test` builds the dashboard first (turbo); a direct vitest run builds it here.
  if (!existsSync(path.join(distDir, "index.html"))) {
    await build({
      root: appDir,
      logLevel: "warn",
      configFile: path.join(appDir, "vite.config.ts"),
    });
  }
  cwd = mkdtempSync(path.join(os.tmpdir(), "troupe-dev-e2e-"));
  mkdirSync(screenshots, { recursive: true });

  // The app must listen before `troupe dev -u` names it, yet its SDK client needs the server's
  // URL, known only once the CLI prints it: requests wait for that URL (troupe syncs without
  // blocking its start, so the first sync's PUT simply waits here instead of failing and
  // retrying 5 s later).
  let troupeUrl: (value: string) => void = () => {};
  const handler = new Promise<ReturnType<typeof sampleHandler>>((resolve) => {
    troupeUrl = (value) => resolve(sampleHandler(value));
  });
  appServer = createServer((request, response) => {
    void handler.then((serveRequest) => serveRequest(request, response));
  });
  const server = appServer;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/inngest`;

  const child = spawn(process.execPath, [bin, "dev", "-p", "0", "-u", appUrl], {
    cwd,
    env: cleanEnv(),
  });
  cli = child;
  exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /troupe dev — (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", () => reject(new Error(`troupe dev exited before listening:\n${output}`)));
  });
  troupeUrl(url);

  ({ browser, page } = await openBrowser());
});

afterAll(async () => {
  await browser?.close();
  // Only when a test failed before stopping it: SIGTERM lets the bin stop its server child too.
  if (cli && cli.exitCode === null && cli.signalCode === null) {
    cli.kill("SIGTERM");
    const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    await Promise.race([exited, timeout]);
    if (cli.exitCode === null) cli.kill("SIGKILL");
  }
  if (appServer) {
    const server = appServer;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (cwd) rmSync(cwd, { recursive: true, force: true });
  rmSync(screenshots, { recursive: true, force: true });
});

const currentRunId = async () => (await page.locator("h1 .mono").textContent()) ?? "";

describe("troupe dev with an Inngest SDK app, in Chromium", () => {
  it("serves the dashboard and lists the synced app's functions", async () => {
    expect(output).toContain(`dashboard ${url}/`);
    // The app is synced in the background after the CLI starts listening.
    await waitFor(
      async () => (await (await fetch(`${url}/api/functions`)).text()).includes("sample-slow"),
      { what: "the sample app to be synced", timeoutMs: 20_000 },
    );
    await page.goto(`${url}/`);
    await page.waitForSelector('[data-testid="runs-table"]');
    await page.click("nav >> text=Functions");
    await page.waitForSelector('[data-function-id="sample-greet"]');
    await page.waitForSelector('[data-function-id="sample-slow"]');
  });

  it("sends an event, sees the run appear and opens its timeline", async () => {
    await page.click("nav >> text=Events");
    await page.fill('[data-testid="send-event"] input[name="name"]', "sample/greet");
    await page.fill('[data-testid="send-event"] textarea[name="data"]', '{"name":"Ada"}');
    await page.click('[data-testid="send-event"] button[type="submit"]');
    await page.waitForSelector('[data-testid="send-event"] .notice a');

    await page.click("nav >> text=Runs");
    const row = page.locator('tr[data-function="sample-greet"]').first();
    await row.locator('[data-status="completed"]').waitFor();
    await page.screenshot({ path: path.join(screenshots, "runs.png"), fullPage: true });
    await row.locator("a").click();
    await page.waitForSelector('h1 [data-status="completed"]');
    await page.waitForSelector('[data-testid="timeline"] [data-step="compose"]');
    const steps = await page
      .locator('[data-testid="timeline"] .timeline-row')
      .evaluateAll((rows) => rows.map((element) => element.getAttribute("data-step")));
    expect(steps).toEqual(["load-user", "compose"]);
    await page.locator('tr[data-step="compose"] summary:has-text("output")').click();
    await page.waitForSelector('tr[data-step="compose"] pre:has-text("Hello, Ada!")');
    await page.screenshot({ path: path.join(screenshots, "run-detail.png"), fullPage: true });
  });

  it("reruns the finished run and sees the new run complete", async () => {
    const firstId = await currentRunId();
    await page.click('button:text-is("Rerun")');
    await page.waitForFunction((id) => {
      const shown = document.querySelector("h1 .mono")?.textContent;
      return typeof shown === "string" && shown !== id;
    }, firstId);
    await page.waitForSelector('h1 [data-status="completed"]');
    await page.waitForSelector(`dl.facts a:text-is("${firstId}")`);
    const rerunId = await currentRunId();
    await page.click("nav >> text=Runs");
    await page.waitForSelector(`tr[data-run-id="${rerunId}"] [data-status="completed"]`);
    await page.waitForSelector(`tr[data-run-id="${firstId}"]`);
  });

  it("cancels a run that sleeps for an hour", async () => {
    const sent = await fetch(`${url}/e/test`, {
      method: "POST",
      body: JSON.stringify({ name: "sample/slow", data: {} }),
    });
    expect(sent.status).toBe(200);
    await page.click("nav >> text=Runs");
    const row = page.locator('tr[data-function="sample-slow"]').first();
    await row.waitFor();
    await row.locator("a").click();
    // The run page refreshes itself: the sleep shows once the SDK has reported it.
    await page.waitForSelector('[data-testid="timeline"] [data-step="nap"]');
    await page.click('button:text-is("Cancel run")');
    await page.waitForSelector('h1 [data-status="cancelled"]');
    await page.waitForSelector("text=Run cancelled.");
    const id = await currentRunId();
    const detail = (await (await fetch(`${url}/api/runs/${id}`)).json()) as {
      data: { status: string };
    };
    expect(detail.data.status).toBe("cancelled");
  });

  it("stops on SIGTERM with exit code 0", async () => {
    cli?.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output).toContain("app synced");
  });
});
