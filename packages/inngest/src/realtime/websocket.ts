import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { holdWritesForTurn, type Logger, TroupeError } from "@troupe/core";
import { type WebSocket, WebSocketServer } from "ws";
import type { RealtimeHub } from "./hub.js";
import type { RealtimeTokens } from "./tokens.js";

/** The path the SDK's realtime client opens: `GET /v1/realtime/connect?token=<jwt>`. */
export const REALTIME_CONNECT_PATH = "/v1/realtime/connect";

/** Accepts realtime subscriptions as WebSocket upgrades on a Node HTTP server. */
export interface RealtimeSockets {
  /**
   * Takes the upgrade when it is for {@link REALTIME_CONNECT_PATH} and returns true (a bad or
   * missing token is answered with 401 and the socket closed); returns false for other paths.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Open subscriptions. */
  openCount(): number;
  /** Closes every subscription with 1001 (going away). */
  close(): Promise<void>;
}

/** Options of {@link createRealtimeSockets}. */
export interface RealtimeSocketsOptions {
  readonly hub: RealtimeHub;
  readonly tokens: RealtimeTokens;
  readonly logger: Logger;
  /** A ping goes out this often; a subscriber that missed the previous pong is dropped. */
  readonly heartbeatMs?: number;
  /** A subscriber this far behind (bytes queued) is disconnected rather than buffered. */
  readonly maxBufferedBytes?: number;
}

/** A frame's bytes go out as a text message (the SDK's client reads text). */
const AS_TEXT = { binary: false } as const;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ status, error: message });
  const reason = status === 401 ? "Unauthorized" : "Service Unavailable";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** WebSocket subscriptions over `hub`, authorised by tokens from `tokens`. */
export function createRealtimeSockets(options: RealtimeSocketsOptions): RealtimeSockets {
  const { hub, tokens, logger } = options;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  // Subscribers only receive; 64 KiB is ample for the control frames a client may send.
  const server = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const open = new Set<WebSocket>();
  const alive = new WeakSet<WebSocket>();

  const heartbeat = setInterval(() => {
    for (const socket of open) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();

  const accept = async (request: IncomingMessage, socket: Duplex, head: Buffer, token: string) => {
    let scope: Awaited<ReturnType<RealtimeTokens["verify"]>>;
    try {
      scope = await tokens.verify(token);
    } catch (error) {
      refuse(socket, 401, TroupeError.isInstance(error) ? error.message : "token: invalid");
      return;
    }
    // Subscribe before the handshake completes: once the client sees the socket open, every
    // later publish reaches it. Frames that arrive in between wait in `early`.
    let ws: WebSocket | undefined;
    let closed = false;
    const early: Uint8Array[] = [];
    // A frame's JSON as the PubSub carried it, sent as a text message without encoding it again.
    const send = (bytes: Uint8Array) => {
      if (!ws) {
        early.push(bytes);
        return;
      }
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > maxBufferedBytes) {
        ws.close(1013, "subscriber too slow");
        return;
      }
      // The frames of one turn of the event loop leave in one write (`ws` writes to `socket`).
      holdWritesForTurn(socket);
      ws.send(bytes, AS_TEXT);
    };
    let unsubscribe: () => Promise<void>;
    try {
      unsubscribe = await hub.subscribe(scope, (_frame, _json, bytes) => send(bytes));
    } catch (error) {
      logger.error("realtime: subscribing failed", { error });
      refuse(socket, 503, "realtime: subscribing failed");
      return;
    }
    const drop = (socketOf?: WebSocket) => {
      if (closed) return;
      closed = true;
      if (socketOf) open.delete(socketOf);
      unsubscribe().catch((error: unknown) =>
        logger.warn("realtime: unsubscribe failed", { error }),
      );
    };
    socket.once("close", () => {
      if (!ws) drop();
    });
    server.handleUpgrade(request, socket, head, (accepted) => {
      ws = accepted;
      open.add(accepted);
      alive.add(accepted);
      accepted.on("pong", () => alive.add(accepted));
      accepted.on("close", () => drop(accepted));
      accepted.on("error", (error) => {
        logger.debug("realtime: subscriber socket error", { error });
        drop(accepted);
      });
      for (const bytes of early.splice(0)) send(bytes);
    });
  };

  return {
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname !== REALTIME_CONNECT_PATH) return false;
      const token = url.searchParams.get("token");
      if (!token) {
        refuse(socket, 401, "token: missing (pass ?token= from POST /v1/realtime/token)");
        return true;
      }
      accept(request, socket, head, token).catch((error: unknown) => {
        logger.error("realtime: upgrade failed", { error });
        socket.destroy();
      });
      return true;
    },
    openCount: () => open.size,
    async close() {
      clearInterval(heartbeat);
      for (const socket of open) socket.close(1001, "server shutting down");
      // A subscriber that does not answer the close within a second is cut.
      const sockets = [...open];
      open.clear();
      const stragglers = setTimeout(() => {
        for (const socket of sockets) socket.terminate();
      }, 1000);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(stragglers);
    },
  };
}
