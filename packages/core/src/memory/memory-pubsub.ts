import { closedError } from "../errors.js";
import { type Logger, noopLogger } from "../logger.js";
import { deliverToHandler, type MessageHandler, type PubSub, validateChannel } from "../pubsub.js";

/** Options of {@link createMemoryPubSub}. */
export interface MemoryPubSubOptions {
  /** Where handler errors are reported. Default: discarded. */
  readonly logger?: Logger;
}

/**
 * A {@link PubSub} within one process. Delivery is asynchronous (after `publish` returns), as it
 * would be over a network, and in publish order per channel.
 */
export function createMemoryPubSub(options: MemoryPubSubOptions = {}): PubSub {
  const logger = options.logger ?? noopLogger;
  const channels = new Map<string, Set<MessageHandler>>();
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError("memory pubsub");
  };

  return {
    name: "memory",
    async publish(channel, message) {
      ensureOpen();
      validateChannel(channel);
      const handlers = channels.get(channel);
      if (!handlers || handlers.size === 0) return;
      for (const handler of handlers) {
        // Each handler's own copy, taken now: the caller may reuse `message` once this returns.
        const copy = message.slice();
        queueMicrotask(() => {
          if (handlers.has(handler)) deliverToHandler(handler, copy, channel, logger);
        });
      }
    },
    async subscribe(channel, handler) {
      ensureOpen();
      validateChannel(channel);
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const subscription: MessageHandler = (message, from) => handler(message, from);
      let handlers = channels.get(channel);
      if (!handlers) {
        handlers = new Set();
        channels.set(channel, handlers);
      }
      handlers.add(subscription);
      return async () => {
        handlers.delete(subscription);
        if (handlers.size === 0 && channels.get(channel) === handlers) channels.delete(channel);
      };
    },
    async close() {
      closed = true;
      // Emptying each set also stops deliveries already queued as microtasks.
      for (const handlers of channels.values()) handlers.clear();
      channels.clear();
    },
  };
}
