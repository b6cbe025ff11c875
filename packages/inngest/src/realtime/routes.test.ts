import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ManualClock } from "@troupe/core";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeFrame } from "./frames.js";
import type { RealtimeHub } from "./hub.js";
import { mountRealtimeRoutes } from "./routes.js";
import { createRealtimeTokens } from "./tokens.js";

const MAX = 64;
const published: RealtimeFrame[] = [];
const hub: RealtimeHub = {
  publish: async (frame) => {
    published.push(frame);
  },
  subscribe: async () => async () => {},
  subscriberCount: () => 0,
  close: async () => {},
};

/** POSTs `body` to the publish route, with a Content-Length or chunked. */
function post(
  url: string,
  body: string,
  framing: "content-length" | "chunked",
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${url}/v1/realtime/publish?channel=c&topic=t`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(framing === "content-length"
            ? { "content-length": String(Buffer.byteLength(body)) }
            : { "transfer-encoding": "chunked" }),
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    outgoing.on("error", reject);
    if (framing === "chunked") {
      // Two writes, so the body really arrives in chunks.
      outgoing.write(body.slice(0, 10));
      outgoing.end(body.slice(10));
    } else {
      outgoing.end(body);
    }
  });
}

describe("realtime publish route over the Node adapter", () => {
  let url = "";
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const app = new Hono();
    const clock = new ManualClock();
    mountRealtimeRoutes(app, {
      hub,
      tokens: createRealtimeTokens({ signingKeys: [], clock }),
      clock,
      fail: (status, message) => Response.json({ error: message }, { status }),
      reply: (status, body) => Response.json(body, { status }),
      maxPublishBytes: MAX,
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
        resolve(started),
      );
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  it.each(["content-length", "chunked"] as const)(
    "publishes a body within the limit (%s)",
    async (framing) => {
      published.length = 0;
      const body = JSON.stringify({ n: 1, text: "x".repeat(MAX - 17) });
      expect(Buffer.byteLength(body)).toBe(MAX);
      expect(await post(url, body, framing)).toEqual({ status: 200, text: '{"ok":true}' });
      expect(published.map((frame) => frame.data)).toEqual([JSON.parse(body)]);
    },
  );

  it.each(["content-length", "chunked"] as const)(
    "refuses a body over the limit with 413 naming the body, publishing nothing (%s)",
    async (framing) => {
      published.length = 0;
      const body = JSON.stringify({ n: 1, text: "x".repeat(MAX - 16) });
      const answer = await post(url, body, framing);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.text)).toEqual({ error: `body: larger than ${MAX} bytes` });
      expect(published).toEqual([]);
    },
  );
});
