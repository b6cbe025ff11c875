import { fromUtf8, type Logger, type PubSub, type Unsubscribe, utf8 } from "@troupe/core";
import { globMatch } from "./glob-match.js";

/** The PubSub channel every RESP server of a deployment publishes on and listens to. */
export const RESP_PUBSUB_CHANNEL = "troupe.resp.pubsub";

/** A local subscriber: a connection in subscribed state. */
export interface PubSubListener {
  /** A message on a channel it subscribed to. */
  message(channel: string, message: string): void;
  /** A message on a channel matching a pattern it subscribed to. */
  patternMessage(pattern: string, channel: string, message: string): void;
}

/**
 * Redis pub/sub over the PubSub port. Redis channel names are free text, which the port's
 * channel names are not, so every server shares one port channel carrying `{ c, m }` JSON and
 * fans messages out to its own subscribers by exact name and by pattern.
 */
export class PubSubHub {
  private readonly channels = new Map<string, Set<PubSubListener>>();
  private readonly patterns = new Map<string, Set<PubSubListener>>();
  private subscription: Promise<Unsubscribe> | undefined;

  constructor(
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
    private readonly channel = RESP_PUBSUB_CHANNEL,
  ) {}

  /** Sends a message; answers how many of this server's subscribers match it. */
  async publish(channel: string, message: string): Promise<number> {
    await this.pubsub.publish(this.channel, utf8(JSON.stringify({ c: channel, m: message })));
    let count = this.channels.get(channel)?.size ?? 0;
    for (const [pattern, listeners] of this.patterns) {
      if (globMatch(pattern, channel)) count += listeners.size;
    }
    return count;
  }

  /** Adds a listener for a channel (or a pattern); resolves once messages flow. */
  async add(kind: "channel" | "pattern", name: string, listener: PubSubListener): Promise<void> {
    const table = kind === "channel" ? this.channels : this.patterns;
    let listeners = table.get(name);
    if (listeners === undefined) {
      listeners = new Set();
      table.set(name, listeners);
    }
    listeners.add(listener);
    this.subscription ??= this.pubsub.subscribe(this.channel, (bytes) => this.deliver(bytes));
    await this.subscription;
  }

  /** Removes a listener from a channel (or a pattern). */
  remove(kind: "channel" | "pattern", name: string, listener: PubSubListener): void {
    const table = kind === "channel" ? this.channels : this.patterns;
    const listeners = table.get(name);
    listeners?.delete(listener);
    if (listeners?.size === 0) table.delete(name);
  }

  /** Stops listening on the port. */
  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription) await (await subscription)();
  }

  private deliver(bytes: Uint8Array): void {
    let parsed: { c?: unknown; m?: unknown };
    try {
      parsed = JSON.parse(fromUtf8(bytes)) as { c?: unknown; m?: unknown };
    } catch (error) {
      this.logger.warn("resp pubsub: dropped a malformed message", { error });
      return;
    }
    const { c: channel, m: message } = parsed;
    if (typeof channel !== "string" || typeof message !== "string") return;
    for (const listener of this.channels.get(channel) ?? []) listener.message(channel, message);
    for (const [pattern, listeners] of this.patterns) {
      if (!globMatch(pattern, channel)) continue;
      for (const listener of listeners) listener.patternMessage(pattern, channel, message);
    }
  }
}
