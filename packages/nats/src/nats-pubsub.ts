import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  closedError,
  deliverToHandler,
  invalidArgument,
  type Logger,
  type MessageHandler,
  noopLogger,
  type PubSub,
  type Unsubscribe,
  validateChannel,
} from "@troupe/core";
import { z } from "zod";
import { connectionOptionsShape, createConnectionHolder, parseOptions } from "./connection.js";
import { mapConnectionError } from "./nats-transport.js";
import { channelSubject } from "./subjects.js";

/** Options of {@link createNatsPubSub}. Give exactly one of `servers` and `connection`. */
export interface NatsPubSubOptions {
  /** NATS server URL(s) to connect to; the PubSub owns that connection and drains it on `close`. */
  readonly servers?: string | readonly string[];
  /** An open connection to use instead (auth, TLS, or one socket shared with the Transport); `close` leaves it open. */
  readonly connection?: NatsConnection;
  /** First tokens of every subject, to keep deployments or tests apart on one server. Default `"troupe"`. */
  readonly subjectPrefix?: string;
  /** The connection's name as the server shows it (monitoring); only with `servers`. */
  readonly connectionName?: string;
  /** Where handler errors are reported. Default: discarded. */
  readonly logger?: Logger;
}

/** A {@link PubSub} on NATS, plus the size limit the server imposes. */
export interface NatsPubSub extends PubSub {
  /** The largest message `publish` accepts, in bytes: the server's `max_payload` (connects first if needed). */
  maxMessageBytes(): Promise<number>;
}

const optionsSchema = z.object(connectionOptionsShape).strict();

interface Entry {
  readonly subscription: Subscription;
  active: boolean;
}

/**
 * A {@link PubSub} on NATS core publish/subscribe: channel `c` is the subject
 * `<subjectPrefix>.ps.<c>` with `.` and `_` escaped (see `channelSubject`), so every valid
 * channel name works, wildcards never apply and two channels never share a subject.
 *
 * `publish` resolves once the message is accepted; it is handed to the client on the next turn of
 * the event loop, batched with the messages published meanwhile, and `close` sends whatever is
 * still waiting. Delivery is at most once and in publish order per publisher, as NATS core gives it:
 * nothing is stored, and messages published while a subscriber is disconnected are lost (its
 * subscriptions come back by themselves when the client reconnects). Messages larger than the
 * server's `max_payload` (1 MiB by default) are rejected with `INVALID_ARGUMENT` on `message`.
 * Handler errors are logged and do not stop delivery.
 */
export function createNatsPubSub(options: NatsPubSubOptions): NatsPubSub {
  const parsed = parseOptions(optionsSchema, options, "createNatsPubSub");
  const prefix = parsed.subjectPrefix;
  const logger = parsed.logger ?? noopLogger;
  const holder = createConnectionHolder(parsed);
  const entries = new Set<Entry>();
  let closing: Promise<void> | undefined;
  // Messages accepted by `publish` and handed to the client together on the next turn of the
  // event loop. The client writes to the socket once per microtask checkpoint, so a caller that
  // awaits each publish would otherwise cost one write (a syscall) per message; batching more
  // than doubled the benchmark's burst throughput (see README).
  let outbox: { connection: NatsConnection; subject: string; message: Uint8Array }[] = [];
  let flushScheduled: NodeJS.Immediate | undefined;
  const flushOutbox = () => {
    flushScheduled = undefined;
    const batch = outbox;
    outbox = [];
    for (const { connection, subject, message } of batch) {
      try {
        connection.publish(subject, message);
      } catch (error) {
        // Only a connection closed underneath us gets here; fire-and-forget allows the loss.
        logger.error("nats pubsub dropped a message", { subject, error });
      }
    }
  };

  const ensureOpen = () => {
    if (closing) throw closedError("nats pubsub");
  };
  const connect = async () => {
    const connection = await holder.get();
    ensureOpen();
    return connection;
  };
  const deliver = (handler: MessageHandler, message: Uint8Array, channel: string) =>
    deliverToHandler(handler, message, channel, logger);

  return {
    name: "nats",

    async publish(channel, message) {
      ensureOpen();
      validateChannel(channel);
      if (!(message instanceof Uint8Array)) {
        throw invalidArgument("message", "expected a Uint8Array");
      }
      const connection = await connect();
      const limit = connection.info?.max_payload;
      if (limit !== undefined && message.byteLength > limit) {
        throw invalidArgument(
          "message",
          `is ${message.byteLength} bytes; the NATS server accepts at most ${limit} (max_payload)`,
          { size: message.byteLength, limit },
        );
      }
      if (connection.isClosed()) {
        throw mapConnectionError(new Error("the NATS connection is closed"), false);
      }
      // Copy: the message waits in the outbox and the caller may reuse its buffer.
      outbox.push({
        connection,
        subject: channelSubject(prefix, channel),
        message: message.slice(),
      });
      flushScheduled ??= setImmediate(flushOutbox);
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      ensureOpen();
      validateChannel(channel);
      if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
      const connection = await connect();
      let entry: Entry | undefined;
      const subscription = connection.subscribe(channelSubject(prefix, channel), {
        callback: (error, msg) => {
          if (error) {
            logger.error("nats pubsub subscription failed", { channel, error });
            return;
          }
          // Copy: the client hands out views of its read buffer.
          if (entry?.active) deliver(handler, msg.data.slice(), channel);
        },
      });
      entry = { subscription, active: true };
      entries.add(entry);
      try {
        // Live only once the server has registered the interest.
        await connection.flush();
        ensureOpen();
      } catch (error) {
        entry.active = false;
        entries.delete(entry);
        subscription.unsubscribe();
        throw mapConnectionError(error, closing !== undefined);
      }
      const own = entry;
      return async () => {
        if (!own.active) return;
        own.active = false;
        entries.delete(own);
        if (!connection.isClosed()) own.subscription.unsubscribe();
      };
    },

    async maxMessageBytes() {
      const connection = await connect();
      const limit = connection.info?.max_payload;
      if (limit === undefined) {
        throw mapConnectionError(new Error("the server sent no max_payload"), false);
      }
      return limit;
    },

    close() {
      closing ??= (async () => {
        // Messages already accepted still go out (before an owned connection drains).
        if (flushScheduled) clearImmediate(flushScheduled);
        flushOutbox();
        for (const entry of entries) {
          entry.active = false;
          entry.subscription.unsubscribe();
        }
        entries.clear();
        await holder.release();
      })();
      return closing;
    },
  };
}
