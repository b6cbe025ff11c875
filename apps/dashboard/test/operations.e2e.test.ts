import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { createRuntime, parseRuntimeConfig, type Runtime } from "@troupe/runtime";
import { waitFor } from "@troupe/testkit";
import type { Browser, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBrowser } from "./browser.js";

// Pause, resume, bulk cancel and bulk replay from a function's page, in Debian's Chromium,
// against a runtime on SQLite serving the built dashboard.

const TOKEN = "e2e-operations-token";
const appDir = fileURLToPath(new URL("..", import.meta.url));
const distDir = path.join(appDir, "dist");

const napper = createFunction(
  { id: "napper", name: "Nap for an hour", triggers: [{ event: "ops/nap" }], retries: 0 },
  async ({ step }) => {
    await step.sleep("nap", "1h");
    return "woke";
  },
);

/** True when the built dashboard has the operations card (a stale build is rebuilt). */
function builtWithOperations(): boolean {
  const assets = path.join(distDir, "assets");
  if (!existsSync(path.join(distDir, "index.html")) || !existsSync(assets)) return false;
  return readdirSync(assets).some(
    (file) =>
      file.endsWith(".js") &&
      readFileSync(path.join(assets, file), "utf8").includes("function-operations"),
  );
}

let dir: string;
let runtime: Runtime;
let url: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!builtWithOperations()) {
    await build({
      root: appDir,
      logLevel: "warn",
      configFile: path.join(appDir, "vite.config.ts"),
    });
  }
  dir = mkdtempSync(path.join(os.tmpdir(), "troupe-dashboard-ops-"));
  runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
      server: { port: 0 },
      auth: { token: TOKEN },
      flows: { pollIntervalMs: 50 },
    }),
    { logger: noopLogger, functions: [napper], dashboardDir: distDir },
  );
  ({ url } = await runtime.start());
  ({ browser, page } = await openBrowser());
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const runsIn = async (status: "running" | "cancelled") =>
  (await runtime.flows.listRuns({ functionId: "napper", status })).length;

describe("function operations in the dashboard", () => {
  it("pauses, resumes, bulk-cancels and bulk-replays from the function's page", async () => {
    await page.goto(`${url}/functions/napper`);
    await page.waitForSelector('[data-testid="login"]');
    await page.fill('input[name="token"]', TOKEN);
    await page.click('[data-testid="login"] button[type="submit"]');
    await page.waitForSelector('[data-testid="function-operations"]');

    // Pause: an event sent now is kept but starts no run.
    await page.click('[data-testid="pause"]');
    await page.waitForSelector('[data-testid="pause-state"]:has-text("Paused since")');
    const {
      ids: [whilePaused],
    } = await runtime.flows.send({ name: "ops/nap" });
    const skipped = await runtime.flows.getEventRuns(whilePaused ?? "");
    expect(skipped.runs).toEqual([]);
    expect(skipped.skipped.map((skip) => skip.reason)).toEqual(["paused"]);

    // Resume: new events start runs again.
    await page.click('[data-testid="resume"]');
    await page.waitForSelector('[data-testid="pause-state"]:has-text("Active")');
    await runtime.flows.send([{ name: "ops/nap" }, { name: "ops/nap" }, { name: "ops/nap" }]);
    await waitFor(async () => (await runsIn("running")) === 3, { what: "three sleeping runs" });

    // Bulk cancel every unfinished run created up to now.
    await page.click('[data-testid="bulk-cancel"]');
    await page.waitForSelector('[data-testid="operations-notice"]:has-text("Cancelled 3 runs.")');
    expect(await runsIn("cancelled")).toBe(3);
    expect(await runsIn("running")).toBe(0);

    // A bad condition is refused with the field named, and changes nothing.
    await page.fill('input[name="bulk-if"]', "event.data ==");
    await page.click('[data-testid="bulk-replay"]');
    await page.waitForSelector("text=body.if");
    expect(await runsIn("running")).toBe(0);

    // Bulk replay the cancelled runs: each gets a new run with its event.
    await page.fill('input[name="bulk-if"]', "");
    await page.click('[data-testid="bulk-replay"]');
    await page.waitForSelector('[data-testid="operations-notice"]:has-text("Replayed 3 runs.")');
    await waitFor(async () => (await runsIn("running")) === 3, { what: "three replayed runs" });
    const replays = await runtime.flows.listRuns({ functionId: "napper", status: "running" });
    for (const summary of replays) {
      expect((await runtime.flows.getRun(summary.id))?.rerunOf).toBeDefined();
    }
  });
});
