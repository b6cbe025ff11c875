import { noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { connect } from "inngest/connect";
import { subscribe } from "inngest/realtime";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

// Node 20 has no global WebSocket without a flag; the SDK's realtime client needs one.
if (typeof globalThis.WebSocket === "undefined") Object.assign(globalThis, { WebSocket });

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** The HTTP status a WebSocket upgrade is refused with (0 when accepted). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? -1);
      socket.terminate();
    });
    socket.on("open", () => {
      resolve(0);
      socket.close();
    });
    socket.on("error", (error) => {
      // A destroyed socket (no HTTP answer at all) surfaces as an error.
      if ("code" in error && error.code === "ECONNRESET") resolve(-1);
      else reject(error);
    });
  });
}

describe("WebSocket services on the runtime (realtime, Connect)", () => {
  it("serves tokens, publishes and WebSocket subscriptions on the runtime's port", async () => {
    const runtime = createRuntime(
      parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 } }),
      { logger: noopLogger },
    );
    stops.push(() => runtime.stop());
    const { url } = await runtime.start();
    const channel = `runtime-${Math.random().toString(36).slice(2)}`;
    const tokenResponse = await fetch(`${url}/v1/realtime/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ channel, name: "status", kind: "run" }]),
    });
    expect(tokenResponse.status).toBe(200);
    const { jwt } = (await tokenResponse.json()) as { jwt: string };
    const received: unknown[] = [];
    const subscription = (await subscribe({
      channel,
      topics: ["status"],
      key: jwt,
      apiBaseUrl: url,
      onMessage: (message: { data: unknown }) => {
        received.push(message.data);
      },
    } as unknown as Parameters<typeof subscribe>[0])) as unknown as { close(): void };
    try {
      for (const step of ["queued", "running", "done"]) {
        const published = await fetch(
          `${url}/v1/realtime/publish?channel=${encodeURIComponent(channel)}&topic=status`,
          { method: "POST", body: JSON.stringify({ step }) },
        );
        expect(published.status).toBe(200);
      }
      await waitFor(() => received.length === 3, { what: "three status messages" });
      expect(received).toEqual([{ step: "queued" }, { step: "running" }, { step: "done" }]);
    } finally {
      subscription.close();
    }
    const ws = url.replace(/^http/, "ws");
    expect(await upgradeStatus(`${ws}/v1/realtime/connect?token=forged`)).toBe(401);
    expect(await upgradeStatus(`${ws}/somewhere/else`)).toBe(-1);
  });

  it("runs a Connect worker's function through the runtime's port", async () => {
    const runtime = createRuntime(
      parseRuntimeConfig({
        storage: { url: "memory:" },
        server: { port: 0 },
        flows: { pollIntervalMs: 20 },
      }),
      { logger: noopLogger },
    );
    stops.push(() => runtime.stop());
    const { url } = await runtime.start();
    const silent = { info() {}, warn() {}, error() {}, debug() {} };
    const client = new Inngest({ id: "runtime-worker", baseUrl: url, isDev: true, logger: silent });
    const fn = client.createFunction(
      { id: "shout", triggers: [{ event: "demo/shout" }] },
      async ({ event, step }) => step.run("shout", () => String(event.data.word).toUpperCase()),
    );
    const worker = await connect({
      apps: [{ client, functions: [fn] }],
      isolateExecution: false,
      handleShutdownSignals: [],
    } as unknown as Parameters<typeof connect>[0]);
    stops.push(() => worker.close());
    const { ids } = await client.send({ name: "demo/shout", data: { word: "hey" } });
    let run: { status: string; output: unknown } | undefined;
    await waitFor(
      async () => {
        const response = await fetch(`${url}/v1/events/${ids[0]}/runs`);
        run = ((await response.json()) as { data: { status: string; output: unknown }[] }).data[0];
        return run !== undefined && run.status !== "Running";
      },
      { timeoutMs: 15_000, what: "the Connect run" },
    );
    expect(run).toMatchObject({ status: "Completed", output: "HEY" });
  });
});
