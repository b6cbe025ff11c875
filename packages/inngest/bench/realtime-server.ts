// The realtime benches' servers: a Troupe Inngest API on loopback (memory Store and Queue), with
// an optional PubSub shared with a second server, and the clustered PubSubs the benches compare.
import type { AddressInfo } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import { createMemoryQueue, createMemoryStore, type PubSub } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createNatsPubSub } from "@troupe/nats";
import { createRedisPubSub } from "@troupe/redis";
import { createInngestApi } from "../src/index.js";

export interface RealtimeServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** A server's fetch handler (the request, then what the Node adapter passes along). */
export type Fetch = Parameters<typeof serveHono>[0]["fetch"];

/** Starts a server on `pubsub` (in-process without one); `wrap` sees each request first. */
export async function startRealtimeServer(
  pubsub: PubSub | undefined,
  wrap?: (fetch: Fetch) => Fetch,
): Promise<RealtimeServer> {
  const flows = createFlows({
    store: createMemoryStore(),
    queue: createMemoryQueue(),
    keepProcessAlive: false,
  });
  const api = createInngestApi({ flows, mode: "dev", ...(pubsub ? { pubsub } : {}) });
  await api.ready();
  const fetch = wrap ? wrap(api.app.fetch) : api.app.fetch;
  const server = await new Promise<ReturnType<typeof serveHono>>((resolve) => {
    const started = serveHono({ fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
  });
  server.on("upgrade", (request, socket, head) => {
    if (!api.handleUpgrade(request, socket, head)) socket.destroy();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      await closed;
      await flows.close();
      await pubsub?.close();
    },
  };
}

/** The clustered paths, `[key, row label, open a PubSub]`, under a prefix of their own. */
export function clusteredPaths(tag: string): [string, string, () => PubSub][] {
  const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
  return [
    ["redis", "two servers, Redis", () => createRedisPubSub({ url: redisUrl, prefix: `${tag}:` })],
    ["nats", "two servers, NATS", () => createNatsPubSub({ servers: natsUrl, subjectPrefix: tag })],
  ];
}
