import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { type Transport, TroupeError } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createNatsTransport } from "../src/index.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * A TCP proxy in front of the real server, so a test can cut one client's connection (as a
 * network failure would) without touching the server other tests share.
 */
async function startProxy(): Promise<{ url: string; sever(): void; close(): Promise<void> }> {
  const target = new URL(NATS_URL);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 4222), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url: `nats://127.0.0.1:${address.port}`,
    sever: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The error code a request ends with, or "ok:<reply>". */
async function outcome(transport: Transport, nodeId: string, timeoutMs: number): Promise<string> {
  try {
    return `ok:${decode(await transport.request("a", nodeId, encode("x"), { timeoutMs }))}`;
  } catch (error) {
    if (TroupeError.isInstance(error)) return String(error.code);
    throw error;
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("when a connection drops", () => {
  it("a listener cut off is UNKNOWN_NODE, its in-flight reply is lost (TIMEOUT), and it serves again after reconnecting", async () => {
    const proxy = await startProxy();
    cleanups.push(() => proxy.close());
    const subjectPrefix = `troupe_test.reconnect_${process.pid}_${Date.now().toString(36)}`;
    const listener = createNatsTransport({ servers: proxy.url, subjectPrefix, drainTimeoutMs: 0 });
    const requester = createNatsTransport({ servers: NATS_URL, subjectPrefix });
    cleanups.push(
      () => listener.close(),
      () => requester.close(),
    );
    let releaseHeld: () => void = () => {};
    let holding = false;
    await listener.listen("b", async (request) => {
      if (decode(request) === "hold") {
        holding = true;
        await new Promise<void>((resolve) => {
          releaseHeld = resolve;
        });
        return encode("held reply");
      }
      return encode("served");
    });
    expect(await outcome(requester, "b", 5000)).toBe("ok:served");

    const held = requester.request("a", "b", encode("hold"), { timeoutMs: 3000 });
    held.catch(() => {});
    await waitFor(() => holding, { what: "the held request to reach the handler" });
    proxy.sever();
    // The server drops the listener's interest with its socket: requests fail fast meanwhile.
    await waitFor(async () => (await outcome(requester, "b", 500)) === "UNKNOWN_NODE", {
      what: "UNKNOWN_NODE while the listener is cut off",
    });
    // The handler finishes during the outage. The client discards what was written while it was
    // disconnected when it reconnects, so that reply is lost and the requester sees TIMEOUT.
    releaseHeld();
    // The client retries after its reconnect wait (2 s for the same server) and re-subscribes.
    await waitFor(async () => (await outcome(requester, "b", 500)) === "ok:served", {
      timeoutMs: 15_000,
      what: "the listener to serve again after reconnecting",
    });
    const error = await held.catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "TIMEOUT")).toBe(true);
  });

  it("a requester cut off fails its waiting request and new ones with UNAVAILABLE at once, then recovers", async () => {
    const proxy = await startProxy();
    cleanups.push(() => proxy.close());
    const subjectPrefix = `troupe_test.reconnect_${process.pid}_${Date.now().toString(36)}_r`;
    const listener = createNatsTransport({ servers: NATS_URL, subjectPrefix, drainTimeoutMs: 0 });
    const requester = createNatsTransport({ servers: proxy.url, subjectPrefix });
    cleanups.push(
      () => listener.close(),
      () => requester.close(),
    );
    let handled = 0;
    let releaseHeld: () => void = () => {};
    await listener.listen("b", async () => {
      handled++;
      await new Promise<void>((resolve) => {
        releaseHeld = resolve;
      });
      return encode("reply nobody hears");
    });
    // Longer than the test's own timeout: failing fast is the point.
    const held = requester.request("a", "b", encode("x"), { timeoutMs: 600_000 });
    held.catch(() => {});
    await waitFor(() => handled === 1, { what: "the request to reach the handler" });
    proxy.sever();
    // Its reply could never arrive (the server drops replies to a disconnected inbox), so the
    // request fails as soon as the client notices; the handler did run (at most once).
    const error = await held.catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
    releaseHeld();
    expect(handled).toBe(1);
    // The client waits 2 s before redialling the same server; requests meanwhile fail at once.
    expect(await outcome(requester, "b", 600_000)).toBe("UNAVAILABLE");
    await waitFor(async () => (await outcome(requester, "b", 1000)) !== "UNAVAILABLE", {
      timeoutMs: 15_000,
      what: "the requester to reconnect",
    });
    expect(handled).toBeGreaterThanOrEqual(2);
  });
});
