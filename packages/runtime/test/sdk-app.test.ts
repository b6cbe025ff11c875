import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const silent = { info() {}, warn() {}, error() {}, debug() {} };

interface RestRun {
  readonly status: string;
  readonly output: unknown;
}

async function finishedRun(url: string, eventId: string): Promise<RestRun> {
  let run: RestRun | undefined;
  await waitFor(
    async () => {
      const response = await fetch(`${url}/v1/events/${eventId}/runs`);
      run = ((await response.json()) as { data: RestRun[] }).data[0];
      return run !== undefined && run.status !== "Running";
    },
    { timeoutMs: 15_000, what: `the run of event ${eventId}` },
  );
  if (!run) throw new Error("unreachable");
  return run;
}

describe("an official Inngest SDK (v4) app on the runtime", () => {
  it("is synced once it comes up, runs its steps on SQLite, and is still known after a restart", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-runtime-sdk-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    // The app's port is taken first; it answers 503 until its SDK handler is installed.
    let handler: RequestListener = (_request, response) => {
      response.statusCode = 503;
      response.end();
    };
    const appServer = createServer((request, response) => handler(request, response));
    await new Promise<void>((resolve) => appServer.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          appServer.closeAllConnections();
          appServer.close(() => resolve());
        }),
    );
    const appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/api/inngest`;

    const config = parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
      server: { port: 0 },
      apps: [appUrl],
      appSyncIntervalMs: 100,
      flows: { pollIntervalMs: 20 },
    });
    const open = (): Runtime => {
      const runtime = createRuntime(config, { logger: noopLogger });
      cleanups.push(() => runtime.stop());
      return runtime;
    };
    const runtime = open();
    const { url } = await runtime.start();
    expect(runtime.appSyncStates()[0]?.synced).toBe(false);

    const client = new Inngest({
      id: "runtime-test-app",
      baseUrl: url,
      isDev: true,
      logger: silent,
    });
    const greet = client.createFunction(
      { id: "greet", triggers: [{ event: "user/created" }] },
      async ({ event, step }) => {
        const name = await step.run("name", () => String(event.data.name));
        return step.run("greeting", () => `Hello, ${name}!`);
      },
    );
    handler = serve({ client, functions: [greet] });
    await waitFor(() => runtime.appSyncStates()[0]?.synced === true, {
      timeoutMs: 10_000,
      what: "the app to be synced",
    });

    const { ids } = await client.send({ name: "user/created", data: { name: "Ada" } });
    const run = await finishedRun(url, ids[0] ?? "");
    expect(run).toMatchObject({ status: "Completed", output: "Hello, Ada!" });
    await runtime.stop();

    // A new runtime on the same file, with no app list: the synced app's functions are stored.
    const restarted = createRuntime(parseRuntimeConfig({ ...config, apps: [] }), {
      logger: noopLogger,
    });
    cleanups.push(() => restarted.stop());
    const again = await restarted.start();
    const sent = await fetch(`${again.url}/e/any-key`, {
      method: "POST",
      body: JSON.stringify({ name: "user/created", data: { name: "Grace" } }),
    });
    const [eventId] = ((await sent.json()) as { ids: string[] }).ids;
    // The app still points at the first runtime's URL for events, but calls come from here.
    expect(await finishedRun(again.url, eventId ?? "")).toMatchObject({
      status: "Completed",
      output: "Hello, Grace!",
    });
  });
});
