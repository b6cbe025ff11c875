import type { Logger, PubSub, Unsubscribe } from "@troupe/core";
import type { StreamEvent } from "./event-log.js";

/** Receives one announced event: its encoded record, and the event itself when published here. */
export type Listener = (bytes: Uint8Array, event?: StreamEvent) => void;

interface Channel {
  readonly listeners: Set<Listener>;
  /** The PubSub subscription, shared by every local listener of the channel. */
  readonly subscription: Promise<Unsubscribe>;
}

/**
 * One PubSub subscription per channel however many local subscribers it has, and a direct
 * path for events published in this process (they reach local subscribers without the PubSub
 * round trip; the PubSub copy that follows is dropped as a duplicate by sequence number).
 */
export class ChannelHub {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
  ) {}

  /** Adds a listener; resolves once the channel's PubSub subscription is live. */
  async listen(channel: string, listener: Listener): Promise<() => Promise<void>> {
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      const listeners = new Set<Listener>();
      const subscription = this.pubsub.subscribe(channel, (bytes) => {
        for (const each of listeners) each(bytes);
      });
      entry = { listeners, subscription };
      this.channels.set(channel, entry);
      subscription.catch(() => {
        if (this.channels.get(channel) === entry) this.channels.delete(channel);
      });
    }
    entry.listeners.add(listener);
    const current = entry;
    try {
      await current.subscription;
    } catch (error) {
      current.listeners.delete(listener);
      throw error;
    }
    return async () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
      if (this.channels.get(channel) === current) this.channels.delete(channel);
      const unsubscribe = await current.subscription;
      await unsubscribe().catch((error: unknown) =>
        this.logger.warn("stream unsubscribe failed", { channel, error }),
      );
    };
  }

  /** Hands an event published here to this process's listeners of `channel`. */
  local(channel: string, bytes: Uint8Array, event: StreamEvent): void {
    const entry = this.channels.get(channel);
    if (entry === undefined) return;
    for (const listener of entry.listeners) listener(bytes, event);
  }

  /** Ends every PubSub subscription. */
  async close(): Promise<void> {
    const all = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(
      all.map(async (entry) => {
        entry.listeners.clear();
        const unsubscribe = await entry.subscription.catch(() => undefined);
        await unsubscribe?.().catch(() => {});
      }),
    );
  }
}
