import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { createMemoryPubSub, ManualClock, noopLogger, type PubSub } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { RealtimeFrame } from "./frames.js";
import { createRealtimeHub, type RealtimeHub } from "./hub.js";
import { createRealtimeTokens } from "./tokens.js";
import { createRealtimeSockets, type RealtimeSockets } from "./websocket.js";

const scope = { channel: "user:42", topics: ["progress"] };
const frame = (n: number): RealtimeFrame => ({
  kind: "data",
  channel: scope.channel,
  topic: "progress",
  data: { n, text: "é" },
  created_at: "2026-12-07T00:00:00.000Z",
});

interface Rig {
  readonly hub: RealtimeHub;
  readonly client: WebSocket;
  /** Messages the client received, parsed. */
  readonly received: unknown[];
  /** Calls to the server socket's `_write` and `_writev` (each one system call's worth). */
  writes(): number;
  close(): Promise<void>;
}

/** A real HTTP server taking upgrades, with its subscriber socket's writes counted. */
async function rig(): Promise<Rig> {
  const pubsub: PubSub = createMemoryPubSub();
  const hub = createRealtimeHub({ pubsub, prefix: "t/", logger: noopLogger });
  const tokens = createRealtimeTokens({
    signingKeys: ["signkey-test-00"],
    clock: new ManualClock(0),
  });
  const sockets: RealtimeSockets = createRealtimeSockets({ hub, tokens, logger: noopLogger });
  let writes = 0;
  const server: Server = createServer();
  server.on("upgrade", (request, socket: Duplex, head) => {
    const counted = socket as Duplex & {
      _write: (...args: unknown[]) => void;
      _writev?: (...args: unknown[]) => void;
    };
    const write = counted._write.bind(counted);
    counted._write = (...args) => {
      writes += 1;
      write(...args);
    };
    const writev = counted._writev?.bind(counted);
    if (writev) {
      counted._writev = (...args) => {
        writes += 1;
        writev(...args);
      };
    }
    sockets.handleUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const token = await tokens.issue(scope);
  const client = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime/connect?token=${token}`);
  const received: unknown[] = [];
  client.on("message", (data, isBinary) => {
    expect(isBinary).toBe(false);
    received.push(JSON.parse(String(data)));
  });
  await new Promise((resolve, reject) => {
    client.once("open", resolve);
    client.once("error", reject);
  });
  return {
    hub,
    client,
    received,
    writes: () => writes,
    async close() {
      client.terminate();
      await sockets.close();
      await hub.close();
      await pubsub.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("realtime WebSocket subscriptions", () => {
  let open: Rig | undefined;
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });

  it("sends the frames one turn of the event loop delivers in one write, as text, in order", async () => {
    open = await rig();
    const { hub, received } = open;
    const before = open.writes();
    await Promise.all(Array.from({ length: 100 }, (_, n) => hub.publish(frame(n))));
    await waitFor(() => received.length === 100, { what: "100 frames" });
    expect(received).toEqual(Array.from({ length: 100 }, (_, n) => frame(n)));
    // One write per frame without the batch; the 100 frames were delivered in one turn.
    expect(open.writes() - before).toBeLessThanOrEqual(2);
  });

  it("lets a lone frame out without waiting for another", async () => {
    open = await rig();
    const { hub, received } = open;
    for (let n = 0; n < 3; n += 1) {
      await hub.publish(frame(n));
      await waitFor(() => received.length === n + 1, { what: `frame ${n}` });
      // Each publish in a turn of its own: one write each.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(received).toEqual([frame(0), frame(1), frame(2)]);
  });
});
