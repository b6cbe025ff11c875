import { invalidArgument } from "./errors.js";
import type { Logger } from "./logger.js";

/** Receives one published message. Errors it throws are logged and do not stop delivery. */
export type MessageHandler = (message: Uint8Array, channel: string) => void | Promise<void>;

/** Ends a subscription; idempotent. */
export type Unsubscribe = () => Promise<void>;

/**
 * Fire-and-forget messages between processes: a wake-up signal, never the source of truth.
 *
 * A message published after `subscribe` resolved reaches that subscriber at most once; messages
 * published while a subscriber is disconnected may be lost. Messages from one publisher on one
 * channel arrive in the order they were published. Every adapter passes `describePubSub` from
 * `@troupe/testkit`.
 */
export interface PubSub {
  /** The adapter's name (`"memory"`, `"sqlite"`, …). */
  readonly name: string;

  /**
   * Sends `message` to every current subscriber of `channel`. Empty messages are allowed; an
   * adapter whose engine limits message size rejects a larger message with INVALID_ARGUMENT
   * (field `message`) and documents its limit.
   */
  publish(channel: string, message: Uint8Array): Promise<void>;

  /** Calls `handler` for each message on `channel`; resolves once the subscription is live. */
  subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe>;

  /** Ends every subscription and releases resources; later calls fail with code `CLOSED`. */
  close(): Promise<void>;
}

/** The longest channel name, in UTF-8 bytes. */
export const MAX_CHANNEL_BYTES = 255;

/** Validates a channel name: non-empty, at most 255 bytes, letters, digits and `._-:/`. */
export function validateChannel(channel: unknown, field = "channel"): asserts channel is string {
  if (typeof channel !== "string" || channel.length === 0) {
    throw invalidArgument(field, "expected a non-empty string");
  }
  if (!/^[A-Za-z0-9._:/-]+$/.test(channel)) {
    throw invalidArgument(
      field,
      `may hold only letters, digits and . _ - : /, got ${JSON.stringify(channel)}`,
    );
  }
  if (Buffer.byteLength(channel, "utf8") > MAX_CHANNEL_BYTES) {
    throw invalidArgument(field, `is longer than ${MAX_CHANNEL_BYTES} bytes`);
  }
}

/**
 * Calls `handler` with one message, for an adapter's delivery: a synchronous throw and a rejected
 * promise are both logged as "pubsub handler failed" and go no further, so one handler's failure
 * never stops delivery to the others. Allocates nothing for a handler that returns nothing.
 */
export function deliverToHandler(
  handler: MessageHandler,
  message: Uint8Array,
  channel: string,
  logger: Logger,
): void {
  let outcome: void | Promise<void>;
  try {
    outcome = handler(message, channel);
  } catch (error) {
    logger.error("pubsub handler failed", { channel, error });
    return;
  }
  if (outcome !== undefined) {
    Promise.resolve(outcome).catch((error: unknown) =>
      logger.error("pubsub handler failed", { channel, error }),
    );
  }
}
