import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { noopLogger, systemClock } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connectCallUrl } from "./call-mapping.js";
import { type ConnectGateway, createConnectGateway } from "./gateway.js";
import {
  ConnectMessage,
  decodeMessage,
  encodeMessage,
  GatewayExecutorRequestData,
  MessageKind,
  SDKResponse,
  SdkResponseStatus,
  StartResponse,
  WorkerConnectRequestData,
  WorkerRequestAckData,
} from "./wire.js";

/** A worker speaking the protocol by hand; `onRequest` decides whether to ack and reply. */
async function rawWorker(
  gateway: ConnectGateway,
  host: string,
  onRequest: (requestId: string, seen: number, ws: WebSocket) => void,
): Promise<WebSocket> {
  const session = decodeMessage(StartResponse, gateway.start(host, false));
  const ws = new WebSocket(String(session.gatewayEndpoint), ["v0.connect.inngest.com"]);
  const seen = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (data: Buffer) => {
      const message = decodeMessage(ConnectMessage, new Uint8Array(data));
      const kind = Number(message.kind ?? 0);
      if (kind === MessageKind.GATEWAY_HELLO) {
        ws.send(
          encodeMessage(ConnectMessage, {
            kind: MessageKind.WORKER_CONNECT,
            payload: encodeMessage(WorkerConnectRequestData, {
              connectionId: session.connectionId,
              authData: { sessionToken: session.sessionToken, syncToken: session.syncToken },
              apps: [{ appName: "raw", functions: Buffer.from("[]") }],
            }),
          }),
        );
      } else if (kind === MessageKind.GATEWAY_CONNECTION_READY) {
        resolve();
      } else if (kind === MessageKind.GATEWAY_EXECUTOR_REQUEST) {
        const request = decodeMessage(
          GatewayExecutorRequestData,
          (message.payload as Uint8Array | undefined) ?? new Uint8Array(),
        );
        const requestId = String(request.requestId);
        const count = (seen.get(requestId) ?? 0) + 1;
        seen.set(requestId, count);
        onRequest(requestId, count, ws);
      }
    });
  });
  return ws;
}

const ack = (ws: WebSocket, requestId: string) =>
  ws.send(
    encodeMessage(ConnectMessage, {
      kind: MessageKind.WORKER_REQUEST_ACK,
      payload: encodeMessage(WorkerRequestAckData, { requestId }),
    }),
  );
const reply = (ws: WebSocket, requestId: string, body: string) =>
  ws.send(
    encodeMessage(ConnectMessage, {
      kind: MessageKind.WORKER_REPLY,
      payload: encodeMessage(SDKResponse, {
        requestId,
        status: SdkResponseStatus.DONE,
        body: Buffer.from(body),
      }),
    }),
  );

describe("Connect gateway: calls a worker does not acknowledge", () => {
  let server: Server | undefined;
  let gateway: ConnectGateway | undefined;
  const sockets: WebSocket[] = [];

  const open = async () => {
    gateway = createConnectGateway({
      sync: async () => undefined,
      clock: systemClock,
      logger: noopLogger,
      ackTimeoutMs: 40,
    });
    const started = gateway;
    server = createServer((_request, response) => response.end());
    server.on("upgrade", (request, socket, head) => {
      if (!started.handleUpgrade(request, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return { gateway: started, host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const call = (to: ConnectGateway) =>
    to.fetch(new URL(`${connectCallUrl("raw")}?fnId=raw-f&stepId=step`), {
      method: "POST",
      body: "{}",
    });

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await gateway?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    gateway = undefined;
  });

  it("sends a dropped call again, and the reply to it completes the call", async () => {
    const { gateway, host } = await open();
    const deliveries: number[] = [];
    sockets.push(
      await rawWorker(gateway, host, (requestId, seen, ws) => {
        deliveries.push(seen);
        // The first delivery is dropped, as a worker still in its handshake does.
        if (seen === 1) return;
        ack(ws, requestId);
        reply(ws, requestId, "42");
      }),
    );
    const response = await call(gateway);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("42");
    expect(deliveries).toEqual([1, 2]);
  });

  it("does not send an acknowledged call again, however long the reply takes", async () => {
    const { gateway, host } = await open();
    let deliveries = 0;
    sockets.push(
      await rawWorker(gateway, host, (requestId, _seen, ws) => {
        deliveries += 1;
        ack(ws, requestId);
        // Replies after five acknowledgement timeouts.
        setTimeout(() => reply(ws, requestId, '"late"'), 200);
      }),
    );
    const response = await call(gateway);
    expect(await response.text()).toBe('"late"');
    expect(deliveries).toBe(1);
  });

  it("gives up on a call no worker acknowledges once its worker is gone", async () => {
    const { gateway, host } = await open();
    let deliveries = 0;
    const ws = await rawWorker(gateway, host, () => {
      deliveries += 1;
      if (deliveries === 2) ws.terminate();
    });
    sockets.push(ws);
    await expect(call(gateway)).rejects.toThrow(/did not acknowledge|no Connect worker/);
    // Sent once, once again, then no worker is left to send it to.
    expect(deliveries).toBe(2);
  });
});
