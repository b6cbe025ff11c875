import type { Logger, PubSub, Unsubscribe } from "@troupe/core";
import {
  decodeFrame,
  encodeFrame,
  frameMatches,
  pubsubChannelOf,
  type RealtimeFrame,
  type RealtimeScope,
} from "./frames.js";

/** Fans realtime frames out to subscribers in every Troupe process that shares the PubSub. */
export interface RealtimeHub {
  /**
   * Sends `frame` to every subscriber of its channel and topic, in this process and in others
   * on the same PubSub. Frames one caller publishes one after another on one channel arrive in
   * that order.
   */
  publish(frame: RealtimeFrame): Promise<void>;
  /**
   * Calls `deliver` for each frame in `scope`, with its JSON text and the same text's UTF-8 bytes
   * as the PubSub carried them (shared by every subscriber: read, never change them); resolves
   * once frames published later arrive.
   */
  subscribe(scope: RealtimeScope, deliver: FrameDelivery): Promise<Unsubscribe>;
  /** Subscribers in this process. */
  subscriberCount(): number;
  /** Drops every subscription of this process. */
  close(): Promise<void>;
}

/** Gets a frame, its JSON text and that text's UTF-8 bytes (encoded once, shared). */
export type FrameDelivery = (frame: RealtimeFrame, json: string, bytes: Uint8Array) => void;

interface ChannelEntry {
  readonly subscribers: Set<Subscriber>;
  /** The PubSub subscription, shared by every local subscriber of the channel. */
  readonly subscribed: Promise<Unsubscribe>;
}

interface Subscriber {
  readonly scope: RealtimeScope;
  /** Gets the frame, its JSON text and bytes (encoded once, shared by every subscriber). */
  readonly deliver: FrameDelivery;
}

/** How many realtime channels' PubSub names a hub keeps computed. */
const MAX_CACHED_NAMES = 10_000;

/** A hub over `pubsub`; its PubSub channels are named under `prefix`. */
export function createRealtimeHub(options: {
  readonly pubsub: PubSub;
  readonly prefix: string;
  readonly logger: Logger;
}): RealtimeHub {
  const { pubsub, prefix, logger } = options;
  const channels = new Map<string, ChannelEntry>();
  // The PubSub name of a realtime channel is a SHA-256 of it; publishers repeat their channels,
  // so the names are kept rather than hashed again per publish (bounded: cleared when full).
  const names = new Map<string, string>();
  const pubsubName = (channel: string) => {
    let name = names.get(channel);
    if (name === undefined) {
      if (names.size >= MAX_CACHED_NAMES) names.clear();
      name = pubsubChannelOf(prefix, channel);
      names.set(channel, name);
    }
    return name;
  };

  const release = async (name: string, entry: ChannelEntry) => {
    if (entry.subscribers.size > 0 || channels.get(name) !== entry) return;
    channels.delete(name);
    await (await entry.subscribed)();
  };

  return {
    // The PubSub port keeps one publisher's order per channel, which is the order promised here.
    publish: (frame) => pubsub.publish(pubsubName(frame.channel), encodeFrame(frame)),
    async subscribe(scope, deliver) {
      const name = pubsubName(scope.channel);
      let entry = channels.get(name);
      if (!entry) {
        const subscribers = new Set<Subscriber>();
        const subscribed = pubsub.subscribe(name, (message) => {
          // Read through a view on the message's bytes: `Buffer.from(message)` would copy them.
          // Every PubSub adapter hands each handler a copy of its own, so subscribers may keep
          // the bytes (a WebSocket writes them as they are, without encoding the text again).
          const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
          const json = bytes.toString("utf8");
          const frame = decodeFrame(json);
          if (!frame) {
            logger.warn("realtime: dropped a message that is not a frame", { channel: name });
            return;
          }
          for (const subscriber of subscribers) {
            if (frameMatches(subscriber.scope, frame)) subscriber.deliver(frame, json, bytes);
          }
        });
        entry = { subscribers, subscribed };
        channels.set(name, entry);
      }
      const subscriber: Subscriber = { scope, deliver };
      entry.subscribers.add(subscriber);
      const current = entry;
      try {
        await current.subscribed;
      } catch (error) {
        current.subscribers.delete(subscriber);
        if (channels.get(name) === current) channels.delete(name);
        throw error;
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        current.subscribers.delete(subscriber);
        await release(name, current);
      };
    },
    subscriberCount() {
      let count = 0;
      for (const entry of channels.values()) count += entry.subscribers.size;
      return count;
    },
    async close() {
      const entries = [...channels.values()];
      channels.clear();
      await Promise.all(
        entries.map(async (entry) => {
          entry.subscribers.clear();
          await (await entry.subscribed.catch(() => async () => {}))();
        }),
      );
    },
  };
}
