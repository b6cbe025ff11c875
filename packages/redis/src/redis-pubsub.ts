import {
  closedError,
  deliverToHandler,
  holdWritesForTurn,
  type MessageHandler,
  type PubSub,
  TroupeError,
  validateChannel,
} from "@troupe/core";
import type { Redis } from "ioredis";
import { z } from "zod";
import {
  connectionShape,
  openConnection,
  parseOptions,
  prefixSchema,
  quitClient,
  type RedisConnectionOptions,
  runOperation,
  troupeRedisOptions,
  watchErrors,
} from "./connection.js";

/** Options of {@link createRedisPubSub}. */
export interface RedisPubSubOptions extends RedisConnectionOptions {
  /** Prepended to every channel name on the wire, so deployments can share one Redis. Default "troupe:". */
  readonly prefix?: string;
}

const optionsSchema = z.object({ ...connectionShape, prefix: prefixSchema.optional() });

interface ChannelState {
  readonly handlers: Set<MessageHandler>;
  /** Settles once Redis confirmed the SUBSCRIBE. */
  readonly live: Promise<unknown>;
}

/**
 * A {@link PubSub} on Redis PUBLISH/SUBSCRIBE. Publishing uses the adapter's connection;
 * subscriptions use a second, dedicated connection (a subscribed Redis connection can do nothing
 * else), opened on the first `subscribe`. ioredis subscribes again after a reconnect; messages
 * published while the subscriber was disconnected are lost, as the port allows.
 */
export function createRedisPubSub(options: RedisPubSubOptions): PubSub {
  const parsed = parseOptions("createRedisPubSub", optionsSchema, options);
  const connection = openConnection("createRedisPubSub", parsed as RedisConnectionOptions);
  const prefix = parsed.prefix ?? "troupe:";
  const channels = new Map<string, ChannelState>();
  let subscriber: Redis | undefined;
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError("redis pubsub");
  };

  // The publishes of one turn of the event loop leave in one socket write: the connection's
  // socket is corked at the first and uncorked in the turn's check phase (`setImmediate`), so a
  // burst of publishes (a server catching up) costs one system call, not one each. Only on a
  // connection this adapter opened: a client passed in may carry other work, which it would hold.
  const ownsConnection = options.client === undefined;
  const holdWritesForTurnIfOwned = () => {
    if (!ownsConnection) return;
    const { client } = connection;
    const stream = client.stream;
    if (client.status !== "ready" || stream === undefined || stream.destroyed) return;
    holdWritesForTurn(stream);
  };

  const deliver = (wire: Buffer, message: Buffer) => {
    const name = wire.toString("utf8");
    if (!name.startsWith(prefix)) return;
    const channel = name.slice(prefix.length);
    const state = channels.get(channel);
    if (!state) return;
    for (const handler of state.handlers) {
      // Each handler gets its own copy: the parser's buffer may be reused for the next reply.
      const copy = new Uint8Array(message);
      // A microtask per handler keeps publish order per channel and isolates handler failures
      // (one queued callback, not a promise chain per message).
      queueMicrotask(() => {
        // Unsubscribed (or closed) since the message arrived: drop it.
        if (closed || !state.handlers.has(handler)) return;
        deliverToHandler(handler, copy, channel, connection.logger);
      });
    }
  };

  const getSubscriber = (): Redis => {
    if (subscriber) return subscriber;
    const created = connection.client.duplicate({ ...troupeRedisOptions });
    watchErrors(created, connection.where, connection.logger);
    created.on("messageBuffer", deliver);
    subscriber = created;
    return created;
  };

  return {
    name: "redis",
    async publish(channel, message) {
      ensureOpen();
      validateChannel(channel);
      if (!(message instanceof Uint8Array)) {
        throw new TroupeError("INVALID_ARGUMENT", "message: expected a Uint8Array", {
          details: { field: "message" },
        });
      }
      const payload = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
      await runOperation(connection, "redis pubsub publish", "write", () => {
        holdWritesForTurnIfOwned();
        return connection.client.publish(`${prefix}${channel}`, payload);
      });
    },
    async subscribe(channel, handler) {
      ensureOpen();
      validateChannel(channel);
      if (typeof handler !== "function") {
        throw new TroupeError("INVALID_ARGUMENT", "handler: expected a function", {
          details: { field: "handler" },
        });
      }
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const subscription: MessageHandler = (message, from) => handler(message, from);
      let state = channels.get(channel);
      if (!state) {
        const client = getSubscriber();
        state = {
          handlers: new Set(),
          live: runOperation(connection, "redis pubsub subscribe", "read", () =>
            client.subscribe(`${prefix}${channel}`),
          ),
        };
        channels.set(channel, state);
      }
      const current = state;
      current.handlers.add(subscription);
      try {
        await current.live;
      } catch (error) {
        current.handlers.delete(subscription);
        if (channels.get(channel) === current && current.handlers.size === 0) {
          channels.delete(channel);
        }
        throw error;
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        current.handlers.delete(subscription);
        if (current.handlers.size > 0 || channels.get(channel) !== current) return;
        channels.delete(channel);
        if (closed || !subscriber) return;
        // Best effort: a failed UNSUBSCRIBE only leaves a channel whose messages are dropped.
        await subscriber.unsubscribe(`${prefix}${channel}`).catch((error: unknown) => {
          connection.logger.warn("redis pubsub unsubscribe failed", { channel, error });
        });
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      channels.clear();
      const toQuit = subscriber;
      subscriber = undefined;
      if (toQuit) await quitClient(toQuit);
      await connection.close();
    },
  };
}
