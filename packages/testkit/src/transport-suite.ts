import type { Transport } from "@troupe/core";
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
import type { SuiteContext } from "./suite-context.js";

/** How `describeTransport` opens and removes the network under test. */
export interface TransportSuiteOptions {
  /** A fresh client on a network. */
  create(context: SuiteContext): Transport | Promise<Transport>;
  /** Another process-like client on the same network. Default: the same instance. */
  openPeer?(context: SuiteContext): Transport | Promise<Transport>;
  /** Remove what `create` made, after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

/** Resolves to "late" after `ms` of real time, for "must not wait for the timeout" checks. */
function lateAfter(ms: number): Promise<"late"> {
  return new Promise((resolve) => {
    setTimeout(() => resolve("late"), ms).unref?.();
  });
}

/** A handler that never answers (until the test ends). */
const neverAnswers = () => new Promise<Uint8Array>(() => {});

/**
 * Registers the Transport conformance suite: request/reply across clients with exact bytes,
 * many requests in flight, UNKNOWN_NODE, TIMEOUT, REMOTE_ERROR, stop-listening, the `from`
 * argument, abort signals, duplicate listeners, node id validation and closing. Runs in real time
 * (short timeouts). Call it at the top level of a vitest test file.
 */
export function describeTransport(adapterName: string, options: TransportSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Transport conformance`, () => {
    const harness = useHarness<Transport>(options, timeout);
    const open = () => harness().main();
    const peer = () => harness().peer();
    // The network may be shared with other runs, so node ids carry the test's id.
    const node = (name: string) => `${harness().context.id}-${name}`;

    it(
      "a request reaches the listening node and its reply comes back byte for byte, both ways",
      async () => {
        const network = await open();
        const other = await peer();
        const payload = pseudoRandomBytes(10_000);
        const seen: { request: Uint8Array; from: string }[] = [];
        await other.listen(node("b"), (request, from) => {
          seen.push({ request, from });
          const reply = new Uint8Array(request.length + 1);
          reply.set(request, 1);
          reply[0] = 0xff;
          return reply;
        });
        await network.listen(node("a"), async (request) => bytes(`a got ${text(request)}`));
        const reply = await network.request(node("a"), node("b"), payload);
        expect(reply[0]).toBe(0xff);
        expectBytes(reply.subarray(1), payload, "reply body");
        expectBytes(seen[0]?.request, payload, "request as the handler saw it");
        expect(seen[0]?.from).toBe(node("a"));
        expect(text(await other.request(node("b"), node("a"), bytes("ping")))).toBe("a got ping");
      },
      timeout,
    );

    it(
      "empty requests and replies round-trip as empty bytes",
      async () => {
        const network = await open();
        const other = await peer();
        let requestLength = -1;
        await other.listen(node("b"), (request) => {
          requestLength = request.length;
          return new Uint8Array(0);
        });
        const reply = await network.request(node("a"), node("b"), new Uint8Array(0));
        expectBytes(reply, new Uint8Array(0), "empty reply");
        expect(requestLength).toBe(0);
      },
      timeout,
    );

    it(
      "a handler can make requests of its own while its caller waits (nested calls)",
      async () => {
        const network = await open();
        const other = await peer();
        await network.listen(node("a"), (request) => bytes(`a(${text(request)})`));
        await other.listen(node("b"), async (request, from) => {
          // Call back into the node that is waiting for this reply.
          const inner = await other.request(node("b"), from, bytes(`inner ${text(request)}`));
          return bytes(`b(${text(inner)})`);
        });
        expect(text(await network.request(node("a"), node("b"), bytes("x")))).toBe("b(a(inner x))");
      },
      timeout,
    );

    it(
      "200 concurrent requests each get their own reply",
      async () => {
        const network = await open();
        const other = await peer();
        await other.listen(node("echo"), async (request, from) => {
          // Answer out of order, so replies cannot be matched to requests by arrival.
          const index = Number(text(request));
          if (index % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
          return bytes(`${from}:${index * 2}`);
        });
        const replies = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            network.request(node(`caller${i % 4}`), node("echo"), bytes(String(i)), {
              timeoutMs: 20_000,
            }),
          ),
        );
        expect(replies.map((reply) => text(reply))).toEqual(
          Array.from({ length: 200 }, (_, i) => `${node(`caller${i % 4}`)}:${i * 2}`),
        );
      },
      timeout,
    );

    it(
      "a request to a node nobody listens on fails fast with UNKNOWN_NODE",
      async () => {
        const network = await open();
        const attempt = network.request(node("a"), node("nobody"), bytes("x"), {
          timeoutMs: 20_000,
        });
        attempt.catch(() => {});
        // Failing fast means not waiting for the 20 s timeout; 5 s leaves room for a slow CI machine.
        const first = await Promise.race([
          attempt.then(
            () => "replied" as const,
            () => "failed" as const,
          ),
          lateAfter(5000),
        ]);
        expect(first, "UNKNOWN_NODE must not wait for the request timeout").toBe("failed");
        const error = await expectTroupeError(() => attempt, "UNKNOWN_NODE");
        expect(error.message).toContain(node("nobody"));
      },
      timeout,
    );

    it(
      "a handler that never answers makes the request fail with TIMEOUT after timeoutMs",
      async () => {
        const network = await open();
        const other = await peer();
        await other.listen(node("slow"), neverAnswers);
        const attempt = network.request(node("a"), node("slow"), bytes("x"), { timeoutMs: 200 });
        attempt.catch(() => {});
        const first = await Promise.race([
          attempt.then(
            () => "replied" as const,
            () => "failed" as const,
          ),
          lateAfter(5000),
        ]);
        expect(first, "a 200 ms timeout must not take 5 s").toBe("failed");
        const error = await expectTroupeError(() => attempt, "TIMEOUT");
        expect(error.message).toContain(node("slow"));
      },
      timeout,
    );

    it(
      "a handler that throws makes the request fail with REMOTE_ERROR carrying its message",
      async () => {
        const network = await open();
        const other = await peer();
        await other.listen(node("broken"), (request) => {
          throw new Error(`cannot handle ${text(request)}`);
        });
        await other.listen(node("rejects"), async () => {
          throw new Error("async failure 42");
        });
        const error = await expectTroupeError(
          () => network.request(node("a"), node("broken"), bytes("order-7")),
          "REMOTE_ERROR",
        );
        expect(error.message).toContain("cannot handle order-7");
        const asyncError = await expectTroupeError(
          () => network.request(node("a"), node("rejects"), bytes("x")),
          "REMOTE_ERROR",
        );
        expect(asyncError.message).toContain("async failure 42");
        // The node keeps serving after a failure.
        await other.listen(node("fine"), () => bytes("ok"));
        expect(text(await network.request(node("a"), node("fine"), bytes("x")))).toBe("ok");
      },
      timeout,
    );

    it(
      "stopping a listener makes the node unknown, and the id can listen again",
      async () => {
        const network = await open();
        const other = await peer();
        const stop = await other.listen(node("b"), () => bytes("first"));
        expect(text(await network.request(node("a"), node("b"), bytes("x")))).toBe("first");
        await stop();
        await stop();
        await expectTroupeError(
          () => network.request(node("a"), node("b"), bytes("x"), { timeoutMs: 20_000 }),
          "UNKNOWN_NODE",
        );
        await other.listen(node("b"), () => bytes("second"));
        expect(text(await network.request(node("a"), node("b"), bytes("x")))).toBe("second");
      },
      timeout,
    );

    it(
      "an abort signal ends the wait early; an already-aborted signal fails at once",
      async () => {
        const network = await open();
        const other = await peer();
        await other.listen(node("slow"), neverAnswers);
        const controller = new AbortController();
        const attempt = network.request(node("a"), node("slow"), bytes("x"), {
          timeoutMs: 20_000,
          signal: controller.signal,
        });
        attempt.catch(() => {});
        setTimeout(() => controller.abort(new Error("caller gave up")), 50);
        const first = await Promise.race([
          attempt.then(
            () => "replied" as const,
            () => "failed" as const,
          ),
          lateAfter(5000),
        ]);
        expect(first, "an aborted request must fail without waiting for its timeout").toBe(
          "failed",
        );
        await expect(
          network.request(node("a"), node("slow"), bytes("x"), { signal: AbortSignal.abort() }),
        ).rejects.toBeDefined();
      },
      timeout,
    );

    it(
      "listening twice on one node id in one transport is rejected",
      async () => {
        const network = await open();
        await network.listen(node("b"), () => bytes("first"));
        await expectTroupeError(
          () => network.listen(node("b"), () => bytes("second")),
          "INVALID_ARGUMENT",
          "nodeId",
        );
        expect(text(await network.request(node("a"), node("b"), bytes("x")))).toBe("first");
      },
      timeout,
    );

    it(
      "invalid node ids are rejected with INVALID_ARGUMENT naming the field",
      async () => {
        const network = await open();
        for (const id of ["", "has space", "a/b", "x".repeat(129), 5]) {
          await expectTroupeError(
            () => network.listen(id as string, () => bytes("x")),
            "INVALID_ARGUMENT",
            "nodeId",
          );
          await expectTroupeError(
            () => network.request(node("a"), id as string, bytes("x")),
            "INVALID_ARGUMENT",
            "nodeId",
          );
          await expectTroupeError(
            () => network.request(id as string, node("b"), bytes("x")),
            "INVALID_ARGUMENT",
            "from",
          );
        }
      },
      timeout,
    );

    it(
      "after close() listen and request fail with code CLOSED, and close is idempotent",
      async () => {
        const network = await open();
        await network.listen(node("b"), () => bytes("x"));
        await network.close();
        await expectTroupeError(() => network.request(node("a"), node("b"), bytes("x")), "CLOSED");
        await expectTroupeError(() => network.listen(node("c"), () => bytes("x")), "CLOSED");
        await network.close();
      },
      timeout,
    );

    if (options.openPeer) {
      it(
        "closing a transport stops its nodes: the peer then gets UNKNOWN_NODE",
        async () => {
          const [network, other] = await harness().distinctPair();
          await network.listen(node("b"), () => bytes("x"));
          expect(text(await other.request(node("a"), node("b"), bytes("x")))).toBe("x");
          await network.close();
          await expectTroupeError(
            () => other.request(node("a"), node("b"), bytes("x"), { timeoutMs: 20_000 }),
            "UNKNOWN_NODE",
          );
        },
        timeout,
      );
    }
  });
}
