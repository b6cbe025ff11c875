import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type Clock, createMemoryPubSub, type Logger, type PubSub } from "@troupe/core";
import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { createRealtimeHub } from "./hub.js";
import { createPublishFastPath, type PublishFastPathOptions } from "./publish.js";
import { mountRealtimeRoutes } from "./routes.js";
import { createRealtimeTokens, type RealtimeTokensOptions } from "./tokens.js";
import { createRealtimeSockets } from "./websocket.js";

/** Options of {@link createRealtime}. */
export interface RealtimeOptions {
  /** Carries publishes between processes; default in-process only. */
  readonly pubsub?: PubSub;
  /** PubSub channel prefix. */
  readonly prefix: string;
  /**
   * Signing keys the subscription tokens derive from, first signs (none: the dev secret); a
   * function is read at every check, see {@link RealtimeTokensOptions.signingKeys}.
   */
  readonly signingKeys: RealtimeTokensOptions["signingKeys"];
  /** How long a subscription token is valid. Default 1 hour. */
  readonly tokenTtlMs?: number;
  readonly maxPublishBytes: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Inngest realtime on Troupe: the publish and token routes and the WebSocket subscriptions. */
export interface Realtime {
  /** Adds the routes to `app`, after its `/v1/*` authorisation. */
  mount(
    app: Hono,
    fail: (status: ContentfulStatusCode, message: string) => Response,
    reply: (status: ContentfulStatusCode, body: unknown) => Response,
  ): void;
  /**
   * The publish route's common case ahead of the router (see {@link createPublishFastPath}):
   * `undefined` for a request the app's routes must answer.
   */
  publishFastPath(
    options: Omit<PublishFastPathOptions, "hub" | "clock" | "maxPublishBytes">,
  ): (request: Request) => Promise<Response> | undefined;
  /** See {@link RealtimeSockets.handleUpgrade}. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

/** Realtime over `options.pubsub` (or an in-process one). */
export function createRealtime(options: RealtimeOptions): Realtime {
  const ownPubsub = options.pubsub === undefined;
  const pubsub = options.pubsub ?? createMemoryPubSub({ logger: options.logger });
  const hub = createRealtimeHub({ pubsub, prefix: options.prefix, logger: options.logger });
  const tokens = createRealtimeTokens({
    signingKeys: options.signingKeys,
    clock: options.clock,
    ...(options.tokenTtlMs === undefined ? {} : { ttlMs: options.tokenTtlMs }),
  });
  const sockets = createRealtimeSockets({ hub, tokens, logger: options.logger });
  return {
    mount(app, fail, reply) {
      mountRealtimeRoutes(app, {
        reply,
        hub,
        tokens,
        clock: options.clock,
        fail,
        maxPublishBytes: options.maxPublishBytes,
      });
    },
    publishFastPath: (fastPathOptions) =>
      createPublishFastPath({
        ...fastPathOptions,
        hub,
        clock: options.clock,
        maxPublishBytes: options.maxPublishBytes,
      }),
    handleUpgrade: (request, socket, head) => sockets.handleUpgrade(request, socket, head),
    async close() {
      await sockets.close();
      await hub.close();
      if (ownPubsub) await pubsub.close();
    },
  };
}
