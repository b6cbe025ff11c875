import type { PubSub } from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  bytes,
  DEFAULT_TEST_TIMEOUT_MS,
  expectBytes,
  expectTroupeError,
  pseudoRandomBytes,
  text,
} from "./assertions.js";
import { useHarness } from "./harness.js";
import { type SuiteContext, waitFor } from "./suite-context.js";

/** How `describePubSub` opens and removes the bus under test. */
export interface PubSubSuiteOptions {
  /** A fresh client on a bus. */
  create(context: SuiteContext): PubSub | Promise<PubSub>;
  /** A second client on the same bus (another connection), to prove messages cross connections. */
  openPeer?(context: SuiteContext): PubSub | Promise<PubSub>;
  /** Remove what `create` made, after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /**
   * Capability flags: e.g. `{ maxMessageBytes: number }` when the engine limits payload size
   * (PostgreSQL NOTIFY: 8000 bytes minus overhead).
   */
  capabilities?: { readonly maxMessageBytes?: number };
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
  /** How long to wait for a message to arrive, in ms. Default 5,000. */
  deliveryTimeoutMs?: number;
}

interface Received {
  readonly text: string | undefined;
  readonly message: Uint8Array;
  readonly channel: string;
}

function recorder(): {
  messages: Received[];
  handler: (message: Uint8Array, channel: string) => void;
} {
  const messages: Received[] = [];
  return {
    messages,
    handler: (message, channel) => {
      messages.push({ text: text(message), message, channel });
    },
  };
}

/**
 * Registers the PubSub conformance suite: delivery after subscribe in publish order with exact
 * bytes, across connections, fan-out, channel isolation, unsubscribe, failing handlers, channel
 * validation, the message size limit (when declared) and closing. Delivery is awaited in real time
 * with `waitFor`, as it crosses connections. Call it at the top level of a vitest test file.
 */
export function describePubSub(adapterName: string, options: PubSubSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 5000;
  const maxMessageBytes = options.capabilities?.maxMessageBytes;

  describe(`${adapterName}: PubSub conformance`, () => {
    const harness = useHarness<PubSub>(options, timeout);
    const open = () => harness().main();
    const peer = () => harness().peer();
    // Tests may share a server with other runs, so every channel carries the test's id.
    const channel = (name: string) => `${harness().context.id}.${name}`;
    const arrived = (messages: readonly Received[], count: number, what: string) =>
      waitFor(() => messages.length >= count, { timeoutMs: deliveryTimeoutMs, what });

    it(
      "a subscriber receives messages published after subscribe, in order, with exact bytes",
      async () => {
        const bus = await open();
        const events = channel("events");
        const { messages, handler } = recorder();
        await bus.subscribe(events, handler);
        const binary = pseudoRandomBytes(300);
        for (let i = 0; i < 20; i++) await bus.publish(events, bytes(`message ${i}`));
        await bus.publish(events, binary);
        await bus.publish(events, new Uint8Array(0));
        await arrived(messages, 22, "22 messages");
        expect(messages.slice(0, 20).map((message) => message.text)).toEqual(
          Array.from({ length: 20 }, (_, i) => `message ${i}`),
        );
        expect(messages.every((message) => message.channel === events)).toBe(true);
        expectBytes(messages[20]?.message, binary, "binary message");
        expectBytes(messages[21]?.message, new Uint8Array(0), "empty message");
      },
      timeout,
    );

    it(
      "messages cross connections both ways, in publish order",
      async () => {
        const bus = await open();
        const other = await peer();
        const toMain = recorder();
        const toPeer = recorder();
        await bus.subscribe(channel("to-main"), toMain.handler);
        await other.subscribe(channel("to-peer"), toPeer.handler);
        await bus.publish(channel("to-peer"), bytes("hello peer"));
        // Many messages from one publisher across a connection still arrive in publish order.
        const sent = Array.from({ length: 100 }, (_, i) => `hello main ${i}`);
        for (const message of sent) await other.publish(channel("to-main"), bytes(message));
        await arrived(toMain.messages, 100, "the peer's 100 messages on main");
        await arrived(toPeer.messages, 1, "main's message on the peer");
        expect(toMain.messages.map((message) => message.text)).toEqual(sent);
        expect(toPeer.messages.map((message) => message.text)).toEqual(["hello peer"]);
      },
      timeout,
    );

    it(
      "several subscribers on one channel each get each message exactly once",
      async () => {
        const bus = await open();
        const other = await peer();
        const fan = channel("fan");
        const subscribers = [recorder(), recorder(), recorder()];
        const [first, second, third] = subscribers as [
          ReturnType<typeof recorder>,
          ReturnType<typeof recorder>,
          ReturnType<typeof recorder>,
        ];
        await bus.subscribe(fan, first.handler);
        await bus.subscribe(fan, second.handler);
        await other.subscribe(fan, third.handler);
        for (let i = 0; i < 5; i++) await bus.publish(fan, bytes(`m${i}`));
        await bus.publish(fan, bytes("end"));
        for (const [i, subscriber] of subscribers.entries()) {
          await waitFor(() => subscriber.messages.some((message) => message.text === "end"), {
            timeoutMs: deliveryTimeoutMs,
            what: `subscriber ${i} to receive the end marker`,
          });
        }
        // Let any duplicate that is still in flight land before counting.
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const subscriber of subscribers) {
          expect(subscriber.messages.map((message) => message.text)).toEqual([
            "m0",
            "m1",
            "m2",
            "m3",
            "m4",
            "end",
          ]);
        }
      },
      timeout,
    );

    it(
      "concurrent subscribers of one channel are each live when their subscribe resolves",
      async () => {
        const bus = await open();
        const other = await peer();
        const race = channel("race");
        // The listening side is up before the race, as in a running worker.
        await bus.subscribe(channel("warm"), () => undefined);
        const recorders = Array.from({ length: 5 }, () => recorder());
        // Each subscriber's wake is published the moment its own subscribe resolves.
        await Promise.all(
          recorders.map((entry, i) =>
            bus.subscribe(race, entry.handler).then(() => other.publish(race, bytes(`wake ${i}`))),
          ),
        );
        for (const [i, entry] of recorders.entries()) {
          await waitFor(() => entry.messages.some((message) => message.text === `wake ${i}`), {
            timeoutMs: deliveryTimeoutMs,
            what: `subscriber ${i}'s own wake`,
          });
        }
      },
      timeout,
    );

    it(
      "subscribing again right after the last unsubscribe of a channel is live",
      async () => {
        const bus = await open();
        const other = await peer();
        const again = channel("again");
        const first = recorder();
        const unsubscribe = await bus.subscribe(again, first.handler);
        // Not awaited: the new subscription must not be undone by the old one's clean-up.
        const leaving = unsubscribe();
        const second = recorder();
        await bus.subscribe(again, second.handler);
        await leaving;
        await other.publish(again, bytes("after"));
        await arrived(second.messages, 1, "the message after resubscribing");
        expect(second.messages.map((message) => message.text)).toEqual(["after"]);
        expect(first.messages).toEqual([]);
      },
      timeout,
    );

    it(
      "channels are isolated, including channels whose names extend one another",
      async () => {
        const bus = await open();
        const other = await peer();
        const names = ["jobs", "jobs.high", "jobs2", "jobs:x", "jobs/x"];
        const recorders = names.map(() => recorder());
        for (const [i, name] of names.entries()) {
          await bus.subscribe(channel(name), (recorders[i] as ReturnType<typeof recorder>).handler);
        }
        for (const name of [...names].reverse()) await other.publish(channel(name), bytes(name));
        for (const [i, name] of names.entries()) {
          const messages = (recorders[i] as ReturnType<typeof recorder>).messages;
          await arrived(messages, 1, `the message on ${name}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const [i, name] of names.entries()) {
          const messages = (recorders[i] as ReturnType<typeof recorder>).messages;
          expect(
            messages.map((message) => message.text),
            `messages on ${name}`,
          ).toEqual([name]);
          expect(messages[0]?.channel).toBe(channel(name));
        }
      },
      timeout,
    );

    it(
      "unsubscribe stops delivery to that handler only, and is idempotent",
      async () => {
        const bus = await open();
        const other = await peer();
        const news = channel("news");
        const leaving = recorder();
        const staying = recorder();
        const unsubscribe = await bus.subscribe(news, leaving.handler);
        await bus.subscribe(news, staying.handler);
        await other.publish(news, bytes("before"));
        await arrived(leaving.messages, 1, "the message before unsubscribe");
        await arrived(staying.messages, 1, "the message before unsubscribe (second subscriber)");
        await unsubscribe();
        await unsubscribe();
        await other.publish(news, bytes("after"));
        await waitFor(() => staying.messages.length >= 2, {
          timeoutMs: deliveryTimeoutMs,
          what: "the message after unsubscribe to reach the remaining subscriber",
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(leaving.messages.map((message) => message.text)).toEqual(["before"]);
        expect(staying.messages.map((message) => message.text)).toEqual(["before", "after"]);
      },
      timeout,
    );

    it(
      "every name validateChannel accepts works as a channel, edge punctuation included",
      async () => {
        const bus = await open();
        const other = await peer();
        // Valid by the port's rule, but special in some engines (NATS subject tokens, Redis glob
        // patterns, SQL identifiers): an adapter must map them, not pass them through.
        const suffixes = [".lead", "trail.", "a..b", "-", "_", ":", "/", "UPPER.lower", "0digits"];
        const recorders = suffixes.map(() => recorder());
        for (const [i, suffix] of suffixes.entries()) {
          await bus.subscribe(
            `${channel("x")}${suffix}`,
            (recorders[i] as ReturnType<typeof recorder>).handler,
          );
        }
        for (const suffix of suffixes)
          await other.publish(`${channel("x")}${suffix}`, bytes(suffix));
        for (const [i, suffix] of suffixes.entries()) {
          await arrived(
            (recorders[i] as ReturnType<typeof recorder>).messages,
            1,
            `the message on ...${suffix}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(recorders.map((entry) => entry.messages.map((message) => message.text))).toEqual(
          suffixes.map((suffix) => [suffix]),
        );
      },
      timeout,
    );

    it(
      "a handler that throws (or rejects) does not stop later deliveries",
      async () => {
        const bus = await open();
        const flaky = channel("flaky");
        const seen: string[] = [];
        await bus.subscribe(flaky, (message) => {
          const value = text(message) ?? "";
          seen.push(value);
          if (value === "throw") throw new Error("handler failure (expected by the test)");
        });
        await bus.subscribe(flaky, async (message) => {
          if (text(message) === "throw")
            throw new Error("async handler failure (expected by the test)");
        });
        await bus.publish(flaky, bytes("throw"));
        await waitFor(() => seen.length >= 1, {
          timeoutMs: deliveryTimeoutMs,
          what: "the first message",
        });
        // Give the failure time to be handled before the next message, so an adapter that drops
        // a subscription whose handler threw is caught.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await bus.publish(flaky, bytes("after"));
        await waitFor(() => seen.length >= 2, {
          timeoutMs: deliveryTimeoutMs,
          what: "both messages",
        });
        expect(seen).toEqual(["throw", "after"]);
      },
      timeout,
    );

    it(
      "a message is sent as it was at publish: mutating it afterwards changes nothing received",
      async () => {
        const bus = await open();
        const other = await peer();
        const copies = channel("copies");
        const { messages, handler } = recorder();
        await other.subscribe(copies, handler);
        const message = bytes("original");
        await bus.publish(copies, message);
        message.fill(0x21);
        await bus.publish(copies, bytes("xxviewxx").subarray(2, 6));
        await arrived(messages, 2, "both messages");
        expect(messages.map((received) => received.text)).toEqual(["original", "view"]);
      },
      timeout,
    );

    it(
      "publishing to a channel nobody listens on succeeds",
      async () => {
        const bus = await open();
        await bus.publish(channel("nobody"), bytes("into the void"));
      },
      timeout,
    );

    it(
      "invalid channel names are rejected with INVALID_ARGUMENT naming the channel",
      async () => {
        const bus = await open();
        const invalid: unknown[] = [
          "",
          "has space",
          "star*",
          "greater>",
          "ünïcode",
          "x".repeat(256),
          7,
          undefined,
        ];
        for (const name of invalid) {
          await expectTroupeError(
            () => bus.publish(name as string, bytes("x")),
            "INVALID_ARGUMENT",
            "channel",
          );
          await expectTroupeError(
            () => bus.subscribe(name as string, () => {}),
            "INVALID_ARGUMENT",
            "channel",
          );
        }
        // The longest valid name works.
        const longest = channel("x").padEnd(255, "y");
        const { messages, handler } = recorder();
        await bus.subscribe(longest, handler);
        await bus.publish(longest, bytes("long"));
        await arrived(messages, 1, "a message on a 255-byte channel");
      },
      timeout,
    );

    if (maxMessageBytes !== undefined) {
      it(
        `a message of maxMessageBytes (${maxMessageBytes}) arrives; one byte more is rejected`,
        async () => {
          const bus = await open();
          const other = await peer();
          const sized = channel("sized");
          const { messages, handler } = recorder();
          await bus.subscribe(sized, handler);
          const atLimit = pseudoRandomBytes(maxMessageBytes);
          await other.publish(sized, atLimit);
          await arrived(messages, 1, "the message at the size limit");
          expectBytes(messages[0]?.message, atLimit, "message at the limit");
          await expectTroupeError(
            () => other.publish(sized, pseudoRandomBytes(maxMessageBytes + 1)),
            "INVALID_ARGUMENT",
          );
        },
        timeout,
      );
    } else {
      it(
        "with no declared size limit, a 64 KiB message arrives intact",
        async () => {
          const bus = await open();
          const other = await peer();
          const sized = channel("sized");
          const { messages, handler } = recorder();
          await bus.subscribe(sized, handler);
          const large = pseudoRandomBytes(64 * 1024);
          await other.publish(sized, large);
          await arrived(messages, 1, "the 64 KiB message");
          expectBytes(messages[0]?.message, large, "64 KiB message");
        },
        timeout,
      );
    }

    it(
      "after close() publish and subscribe fail with code CLOSED, and close is idempotent",
      async () => {
        const bus = await open();
        await bus.subscribe(channel("c"), () => {});
        await bus.close();
        await expectTroupeError(() => bus.publish(channel("c"), bytes("x")), "CLOSED");
        await expectTroupeError(() => bus.subscribe(channel("c"), () => {}), "CLOSED");
        await bus.close();
      },
      timeout,
    );

    if (options.openPeer) {
      it(
        "a closed client receives nothing more, and the peer keeps working",
        async () => {
          const [bus, other] = await harness().distinctPair();
          const closing = recorder();
          const remaining = recorder();
          await bus.subscribe(channel("c"), closing.handler);
          await other.subscribe(channel("c"), remaining.handler);
          await bus.close();
          await other.publish(channel("c"), bytes("after close"));
          await arrived(remaining.messages, 1, "the message on the peer");
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(closing.messages).toEqual([]);
        },
        timeout,
      );
    }
  });
}
