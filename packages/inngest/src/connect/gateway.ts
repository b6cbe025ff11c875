import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type Clock, type Logger, secretEquals } from "@troupe/core";
import { type WebSocket, WebSocketServer } from "ws";
import { signBody } from "../signing.js";
import {
  asHttpFunction,
  connectAppOf,
  connectCallUrl,
  executorRequestOf,
  httpReplyOf,
} from "./call-mapping.js";
import {
  ConnectMessage,
  type Decoded,
  decodeMessage,
  encodeMessage,
  FlushResponse,
  GatewayConnectionReadyData,
  GatewayExecutorRequestData,
  MessageKind,
  SDKResponse,
  StartResponse,
  WorkerConnectRequestData,
  WorkerReplyAckData,
  WorkerRequestAckData,
  WorkerRequestExtendLeaseAckData,
  WorkerRequestExtendLeaseData,
} from "./wire.js";

/** The WebSocket path workers are sent to by `POST /v0/connect/start`. */
export const CONNECT_GATEWAY_PATH = "/v0/connect/gateway";
const SUBPROTOCOL = "v0.connect.inngest.com";

/** Options of {@link createConnectGateway}. */
export interface ConnectGatewayOptions {
  /** Registers a worker's app as a sync would (`POST /fn/register` body); throws if refused. */
  readonly sync: (request: Record<string, unknown>) => Promise<unknown>;
  /** Signs replies so the HTTP driver's signature check holds in `start` mode. */
  readonly signingKey?: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Worker heartbeat interval asked for. Default 10 s; a worker silent for 3 is dropped. */
  readonly heartbeatMs?: number;
  /** How long a call waits for a reply after its connection dropped (the SDK flushes buffered replies). Default 10 s. */
  readonly orphanGraceMs?: number;
  /**
   * How long a call waits for a worker of its app to (re)connect before it fails as
   * unreachable (and is retried by the engine). Default 15 s.
   */
  readonly awaitWorkerMs?: number;
  /**
   * How long a worker has to acknowledge a call (`WORKER_REQUEST_ACK`, sent on receipt) before
   * the call is sent again, to a ready worker of its app. A worker drops a call that reaches it
   * while it is still finishing its handshake (the v3 SDK does, after a reconnect). Default 5 s.
   */
  readonly ackTimeoutMs?: number;
}

/** Connect workers: their handshake, their sync, and calls carried over their sockets. */
export interface ConnectGateway {
  /** `POST /v0/connect/start`: a connection id, session token and the gateway URL. */
  start(host: string, secure: boolean): Uint8Array;
  /** `POST /v0/connect/flush`: a reply the worker buffered while disconnected. */
  flush(body: Uint8Array): Uint8Array;
  /** Takes WebSocket upgrades to {@link CONNECT_GATEWAY_PATH}. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Carries a call request the HTTP driver makes to a Connect app's call URL. */
  fetch(url: URL, init: RequestInit): Promise<Response>;
  /** Whether `url` is a Connect app's call URL. */
  handles(url: URL): boolean;
  /** Connected workers per app (ready ones). */
  workers(appName: string): number;
  close(): Promise<void>;
}

interface Worker {
  readonly id: string;
  readonly ws: WebSocket;
  readonly apps: Set<string>;
  ready: boolean;
  lastSeen: number;
}

interface PendingCall {
  readonly resolve: (reply: Decoded) => void;
  readonly reject: (error: Error) => void;
  workerId: string;
  orphanTimer?: ReturnType<typeof setTimeout>;
  /** Set until the worker acknowledges the call; sends it again when it fires. */
  ackTimer?: ReturnType<typeof setTimeout> | undefined;
}

/** Times one call is sent again for want of an acknowledgement. */
const MAX_REDELIVERIES = 3;

const frame = (kind: number, payload?: Uint8Array) =>
  encodeMessage(ConnectMessage, payload ? { kind, payload } : { kind });

/** A Connect gateway; mount its routes and upgrades on the Inngest API. */
export function createConnectGateway(options: ConnectGatewayOptions): ConnectGateway {
  const { clock, logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const orphanGraceMs = options.orphanGraceMs ?? 10_000;
  const awaitWorkerMs = options.awaitWorkerMs ?? 15_000;
  const ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
  /** Calls waiting for a worker to become ready. */
  const awaitingWorker = new Set<() => void>();
  const workerReady = () => {
    for (const wake of [...awaitingWorker]) wake();
  };
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  /** Sessions handed out by `start`, by connection id, until the worker connects. */
  const sessions = new Map<string, { token: string; expiresAt: number }>();
  const workers = new Map<string, Worker>();
  const pending = new Map<string, PendingCall>();
  let turn = 0;
  let closed = false;

  const liveness = setInterval(() => {
    const now = clock.now();
    for (const worker of workers.values()) {
      if (now - worker.lastSeen > heartbeatMs * 3) worker.ws.terminate();
    }
    for (const [id, session] of sessions) if (session.expiresAt < now) sessions.delete(id);
  }, heartbeatMs);
  liveness.unref();

  const settle = (reply: Decoded) => {
    const requestId = String(reply.requestId ?? "");
    const call = pending.get(requestId);
    if (!call) return false;
    pending.delete(requestId);
    if (call.orphanTimer) clearTimeout(call.orphanTimer);
    if (call.ackTimer) clearTimeout(call.ackTimer);
    call.resolve(reply);
    return true;
  };

  const register = async (worker: Worker, data: Decoded) => {
    const apps = (data.apps as Decoded[] | undefined) ?? [];
    for (const app of apps) {
      const appName = String(app.appName ?? "");
      const functions = JSON.parse(
        Buffer.from((app.functions as Uint8Array | undefined) ?? new Uint8Array()).toString(
          "utf8",
        ) || "[]",
      ) as unknown[];
      await options.sync({
        url: connectCallUrl(appName),
        appName,
        framework: "connect",
        deployType: "connect",
        ...(typeof data.sdkVersion === "string" ? { sdk: `js:${data.sdkVersion}` } : {}),
        ...(typeof app.appVersion === "string" ? { appVersion: app.appVersion } : {}),
        functions: functions.map((fn) => asHttpFunction(fn, appName)),
      });
      worker.apps.add(appName);
    }
  };

  const onMessage = async (worker: Worker, bytes: Uint8Array, connected: { done: boolean }) => {
    worker.lastSeen = clock.now();
    const message = decodeMessage(ConnectMessage, bytes);
    const kind = Number(message.kind ?? 0);
    const payload = (message.payload as Uint8Array | undefined) ?? new Uint8Array();
    if (!connected.done) {
      if (kind !== MessageKind.WORKER_CONNECT) {
        worker.ws.close(4001, "expected WORKER_CONNECT");
        return;
      }
      const data = decodeMessage(WorkerConnectRequestData, payload);
      const session = sessions.get(String(data.connectionId ?? ""));
      const auth = (data.authData as Decoded | undefined) ?? {};
      if (!session || !secretEquals(String(auth.sessionToken ?? ""), session.token)) {
        worker.ws.close(4003, "authData.sessionToken: not a session from POST /v0/connect/start");
        return;
      }
      sessions.delete(String(data.connectionId));
      try {
        await register(worker, data);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        logger.warn("connect: sync refused", { error });
        worker.ws.send(frame(MessageKind.SYNC_FAILED));
        worker.ws.close(4002, reason.slice(0, 120));
        return;
      }
      connected.done = true;
      worker.ready = data.workerManualReadinessAck !== true;
      worker.ws.send(
        frame(
          MessageKind.GATEWAY_CONNECTION_READY,
          encodeMessage(GatewayConnectionReadyData, {
            heartbeatInterval: `${Math.round(heartbeatMs / 1000)}s`,
            extendLeaseInterval: "5s",
          }),
        ),
      );
      logger.info("connect: worker connected", { connectionId: worker.id, apps: [...worker.apps] });
      if (worker.ready) workerReady();
      return;
    }
    switch (kind) {
      case MessageKind.WORKER_READY:
        worker.ready = true;
        workerReady();
        return;
      case MessageKind.WORKER_PAUSE:
        worker.ready = false;
        return;
      case MessageKind.WORKER_HEARTBEAT:
        worker.ws.send(frame(MessageKind.GATEWAY_HEARTBEAT));
        return;
      case MessageKind.WORKER_REPLY: {
        const reply = decodeMessage(SDKResponse, payload);
        settle(reply);
        worker.ws.send(
          frame(
            MessageKind.WORKER_REPLY_ACK,
            encodeMessage(WorkerReplyAckData, { requestId: reply.requestId }),
          ),
        );
        return;
      }
      case MessageKind.WORKER_REQUEST_EXTEND_LEASE: {
        const extend = decodeMessage(WorkerRequestExtendLeaseData, payload);
        const alive = pending.has(String(extend.requestId ?? ""));
        // No new lease id tells the worker its lease is gone (the call was given up).
        worker.ws.send(
          frame(
            MessageKind.WORKER_REQUEST_EXTEND_LEASE_ACK,
            encodeMessage(WorkerRequestExtendLeaseAckData, {
              requestId: extend.requestId,
              functionSlug: extend.functionSlug,
              ...(alive ? { newLeaseId: randomUUID() } : {}),
            }),
          ),
        );
        return;
      }
      case MessageKind.WORKER_REQUEST_ACK: {
        const call = pending.get(String(decodeMessage(WorkerRequestAckData, payload).requestId));
        if (call?.ackTimer) clearTimeout(call.ackTimer);
        if (call) call.ackTimer = undefined;
        return;
      }
      default:
        // WORKER_STATUS: informational.
        return;
    }
  };

  const accept = (ws: WebSocket) => {
    const worker: Worker = {
      id: randomUUID(),
      ws,
      apps: new Set(),
      ready: false,
      lastSeen: clock.now(),
    };
    workers.set(worker.id, worker);
    const connected = { done: false };
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer) => {
      onMessage(worker, new Uint8Array(data), connected).catch((error: unknown) => {
        logger.warn("connect: bad message from worker", { error });
        ws.close(4000, "malformed message");
      });
    });
    ws.on("close", () => {
      workers.delete(worker.id);
      for (const [requestId, call] of pending) {
        if (call.workerId !== worker.id || call.ackTimer) continue;
        // The worker may still finish and flush its reply (POST /v0/connect/flush) after
        // reconnecting; the call is given up only after the grace period.
        call.orphanTimer = setTimeout(() => {
          if (pending.delete(requestId)) {
            call.reject(new Error("the Connect worker disconnected before replying"));
          }
        }, orphanGraceMs);
      }
    });
    ws.on("error", (error) => logger.debug("connect: worker socket error", { error }));
    ws.send(frame(MessageKind.GATEWAY_HELLO));
  };

  const pick = (appName: string): Worker | undefined => {
    const candidates = [...workers.values()].filter((w) => w.ready && w.apps.has(appName));
    if (candidates.length === 0) return undefined;
    turn = (turn + 1) % candidates.length;
    return candidates[turn];
  };

  return {
    start(host, secure) {
      const connectionId = randomUUID();
      const token = randomBytes(32).toString("hex");
      sessions.set(connectionId, { token, expiresAt: clock.now() + 60_000 });
      return encodeMessage(StartResponse, {
        connectionId,
        gatewayEndpoint: `${secure ? "wss" : "ws"}://${host}${CONNECT_GATEWAY_PATH}`,
        gatewayGroup: "troupe",
        sessionToken: token,
        syncToken: randomBytes(16).toString("hex"),
      });
    },
    flush(body) {
      const reply = decodeMessage(SDKResponse, body);
      settle(reply);
      return encodeMessage(FlushResponse, { requestId: reply.requestId });
    },
    handleUpgrade(request, socket, head) {
      const path = new URL(request.url ?? "/", "http://localhost").pathname;
      if (path !== CONNECT_GATEWAY_PATH) return false;
      server.handleUpgrade(request, socket, head, accept);
      return true;
    },
    handles: (url) => connectAppOf(url) !== undefined,
    workers: (appName) =>
      [...workers.values()].filter((w) => w.ready && w.apps.has(appName)).length,
    async fetch(url, init) {
      const appName = connectAppOf(url) ?? "";
      if (closed) throw new Error("the server is shutting down");
      let worker = pick(appName);
      // A worker that is reconnecting (after its own restart or this server's) gets a moment.
      const deadline = clock.now() + awaitWorkerMs;
      while (!worker && !closed && clock.now() < deadline && !init.signal?.aborted) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            awaitingWorker.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.max(1, deadline - clock.now()));
          awaitingWorker.add(wake);
        });
        worker = pick(appName);
      }
      if (!worker)
        throw new Error(`no Connect worker of app ${JSON.stringify(appName)} is connected`);
      const requestId = randomUUID();
      const headers = new Headers(init.headers);
      const request = executorRequestOf(
        url,
        String(init.body ?? ""),
        { requestId, leaseId: randomUUID(), appName },
        headers.get("x-run-id") ?? "",
      );
      const reply = await new Promise<Decoded>((resolve, reject) => {
        const signal = init.signal;
        const onAbort = () => {
          if (pending.delete(requestId)) reject(new Error("the call timed out"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        const call: PendingCall = {
          resolve: (value) => {
            signal?.removeEventListener("abort", onAbort);
            resolve(value);
          },
          reject: (error) => {
            if (call.ackTimer) clearTimeout(call.ackTimer);
            reject(error);
          },
          workerId: worker.id,
        };
        pending.set(requestId, call);
        const encoded = frame(
          MessageKind.GATEWAY_EXECUTOR_REQUEST,
          encodeMessage(GatewayExecutorRequestData, request),
        );
        // Sent; resent (to a ready worker, perhaps another) while no acknowledgement comes.
        const deliver = (to: Worker | undefined, redeliveries: number) => {
          if (to) call.workerId = to.id;
          call.ackTimer = setTimeout(() => {
            call.ackTimer = undefined;
            if (pending.get(requestId) !== call || closed) return;
            if (redeliveries >= MAX_REDELIVERIES) {
              // Left to the reply, or to the call's own timeout while the worker is there.
              if (!workers.has(call.workerId)) {
                pending.delete(requestId);
                reject(new Error("the Connect worker did not acknowledge the call"));
              }
              return;
            }
            const next = pick(appName);
            logger.debug("connect: call not acknowledged, sending it again", { requestId });
            deliver(next, redeliveries + 1);
          }, ackTimeoutMs);
          // No ready worker right now: the next attempt looks again.
          to?.ws.send(encoded);
        };
        deliver(worker, 0);
      });
      const http = httpReplyOf(reply);
      const replyHeaders = { ...http.headers };
      if (options.signingKey) {
        replyHeaders["x-inngest-signature"] = signBody(
          options.signingKey,
          http.body,
          Math.floor(clock.now() / 1000),
        );
      }
      return new Response(http.status === 206 || http.body !== "" ? http.body : null, {
        status: http.status,
        headers: replyHeaders,
      });
    },
    async close() {
      closed = true;
      clearInterval(liveness);
      workerReady();
      // GATEWAY_CLOSING tells the SDK to reconnect (here, once the server is back) rather
      // than treat the close as an error; a socket still open a second later is cut.
      for (const worker of workers.values()) {
        worker.ws.send(frame(MessageKind.GATEWAY_CLOSING));
        worker.ws.close(1001, "server shutting down");
      }
      const stragglers = setTimeout(() => {
        for (const worker of workers.values()) worker.ws.terminate();
      }, 1000);
      for (const call of pending.values()) {
        if (call.orphanTimer) clearTimeout(call.orphanTimer);
        call.reject(new Error("the server is shutting down"));
      }
      pending.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(stragglers);
    },
  };
}
