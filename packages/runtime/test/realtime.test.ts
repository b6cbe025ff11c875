import { noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
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

describe("realtime on the runtime", () => {
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
});
