import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { createRuntime, parseRuntimeConfig, type Runtime } from "@troupe/runtime";
import { waitFor } from "@troupe/testkit";
import type { Browser, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { openBrowser } from "./browser.js";

// The dashboard hides what the logged-in token may not do (it asks GET /api/whoami), in
// Debian's Chromium against a runtime on SQLite: a read-only token sees no mutating button and
// no admin page; the root token sees them all, the tokens page and the audit log.

const ROOT = "e2e-scopes-root-token-5c1f9a3e7b";
const appDir = fileURLToPath(new URL("..", import.meta.url));
const distDir = path.join(appDir, "dist");

const napper = createFunction(
  { id: "napper", name: "Nap for an hour", triggers: [{ event: "scopes/nap" }], retries: 0 },
  async ({ step }) => {
    await step.sleep("nap", "1h");
    return "woke";
  },
);

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: { increment: (ctx, by: number) => (ctx.state.count += by) },
});

/** True when the built dashboard asks for the token's scopes (a stale build is rebuilt). */
function builtWithScopes(): boolean {
  const assets = path.join(distDir, "assets");
  if (!existsSync(path.join(distDir, "index.html")) || !existsSync(assets)) return false;
  return readdirSync(assets).some(
    (file) =>
      file.endsWith(".js") && readFileSync(path.join(assets, file), "utf8").includes("/whoami"),
  );
}

let dir: string;
let runtime: Runtime;
let url: string;
let browser: Browser;
let page: Page;
let runId: string;
let eventId: string;

async function api(method: string, route: string, token: string, body?: unknown) {
  return fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

beforeAll(async () => {
  if (!builtWithScopes()) {
    await build({
      root: appDir,
      logLevel: "warn",
      configFile: path.join(appDir, "vite.config.ts"),
    });
  }
  dir = mkdtempSync(path.join(os.tmpdir(), "troupe-dashboard-scopes-"));
  runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
      server: { port: 0 },
      auth: { token: ROOT },
      flows: { pollIntervalMs: 50 },
    }),
    {
      logger: noopLogger,
      functions: [napper],
      actors: { definitions: [Counter] },
      dashboardDir: distDir,
    },
  );
  ({ url } = await runtime.start());
  const sent = (await (await api("POST", "/api/events", ROOT, { name: "scopes/nap" })).json()) as {
    ids: string[];
  };
  eventId = sent.ids[0] ?? "";
  await waitFor(async () => (await runtime.flows.getEventRuns(eventId)).runs.length === 1, {
    what: "the napper's run",
  });
  runId = (await runtime.flows.getEventRuns(eventId)).runs[0]?.id ?? "";
  ({ browser, page } = await openBrowser());
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const navLabels = async () =>
  (await page.locator("nav.sidebar a").allTextContents()).map((text) => text.trim());

async function logIn(token: string) {
  await page.waitForSelector('[data-testid="login"]');
  await page.fill('input[name="token"]', token);
  await page.click('[data-testid="login"] button[type="submit"]');
}

describe("the dashboard follows the token's scopes", () => {
  it("a read-only token sees no mutating button and no admin page; the server refuses anyway", async () => {
    const created = await api("POST", "/api/tokens", ROOT, {
      name: "reader",
      scopes: ["runs:read"],
    });
    const { token: reader } = (await created.json()) as { token: string };

    await page.goto(`${url}/runs/${runId}`);
    await logIn(reader);
    await page.waitForSelector('[data-testid="whoami"]:has-text("reader")');
    await page.waitForSelector("h2:has-text('Timeline')");
    expect(await navLabels()).toEqual(["Runs", "Events", "Functions", "Apps"]);
    expect(await page.locator("button:has-text('Cancel run')").count()).toBe(0);
    expect(await page.locator("button:has-text('Rerun')").count()).toBe(0);

    await page.goto(`${url}/events`);
    await page.waitForSelector("h1:has-text('Events')");
    expect(await page.locator('[data-testid="send-event"]').count()).toBe(0);
    await page.goto(`${url}/events/${eventId}`);
    await page.waitForSelector("h2:has-text('Payload')");
    expect(await page.locator("button:has-text('Replay event')").count()).toBe(0);

    await page.goto(`${url}/functions/napper`);
    await page.waitForSelector("h2:has-text('Flow control')");
    expect(await page.locator('[data-testid="function-operations"]').count()).toBe(0);
    expect(await page.locator("button:has-text('Invoke')").count()).toBe(0);

    await page.goto(`${url}/apps`);
    await page.waitForSelector("h1:has-text('Apps')");
    expect(await page.locator("button:has-text('Sync')").count()).toBe(0);

    for (const hidden of ["tokens", "audit", "activations", "stats"]) {
      await page.goto(`${url}/${hidden}`);
      await page.waitForSelector('[data-testid="missing-scope"]');
    }

    // Hiding is only UX: the server still refuses what the token lacks.
    const refused = await api("POST", `/api/runs/${runId}/cancel`, reader, {});
    expect(refused.status).toBe(403);
  });

  it("the root token sees every button, the tokens page and the audit log", async () => {
    await page.click("nav.sidebar button:has-text('Log out')");
    await logIn(ROOT);
    await page.waitForSelector('[data-testid="whoami"]:has-text("root")');
    expect(await navLabels()).toEqual([
      "Runs",
      "Events",
      "Functions",
      "Apps",
      "Stats",
      "Actors",
      "Tokens",
      "Audit log",
    ]);

    await page.goto(`${url}/runs/${runId}`);
    await page.waitForSelector("button:has-text('Cancel run')");
    expect(await page.locator("button:has-text('Rerun')").count()).toBeGreaterThan(0);
    await page.goto(`${url}/events`);
    await page.waitForSelector('[data-testid="send-event"]');
    await page.goto(`${url}/events/${eventId}`);
    await page.waitForSelector("button:has-text('Replay event')");
    await page.goto(`${url}/functions/napper`);
    await page.waitForSelector('[data-testid="function-operations"]');
    await page.waitForSelector("button:has-text('Invoke')");
    await page.goto(`${url}/apps`);
    await page.waitForSelector("button:has-text('Sync')");
    await page.goto(`${url}/activations`);
    await page.waitForSelector("button:has-text('Call action')");

    // Tokens: the reader made above is listed; a new one is created from the page.
    await page.goto(`${url}/tokens`);
    await page.waitForSelector('[data-testid="tokens"] td:has-text("reader")');
    await page.fill('input[name="token-name"]', "made-in-browser");
    await page.click('[data-testid="create-token"] button[type="submit"]');
    await page.waitForSelector('[data-testid="created-token"]');
    await page.waitForSelector('[data-testid="tokens"] td:has-text("made-in-browser")');

    // The audit log shows who refused or made what: the reader's refused cancel is there.
    await page.goto(`${url}/audit`);
    await page.waitForSelector('[data-testid="audit-entries"] td:has-text("reader")');
    await page.waitForSelector(
      '[data-testid="audit-entries"] td:has-text("POST /api/runs/:id/cancel")',
    );
  });
});
