import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's Chromium (installed by tooling/ci/chromium.sh), or `TROUPE_CHROMIUM`. */
export const CHROMIUM = process.env.TROUPE_CHROMIUM ?? "/usr/bin/chromium";

// Checked on import, before a test file starts any server: the tests fail, never skip.
if (!existsSync(CHROMIUM)) {
  throw new Error(
    `Chromium not found at ${CHROMIUM}: run tooling/ci/chromium.sh (apt-get install chromium) or set TROUPE_CHROMIUM.`,
  );
}

/**
 * Launches headless Chromium for the browser tests and opens one page (1280×800, 20 s default
 * timeout). The flags keep Chromium off the network this machine does not have (background
 * services, QUIC).
 */
export async function openBrowser(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    // playwright gives each launch a fresh user-data-dir of its own.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(20_000);
  return { browser, page: await context.newPage() };
}
