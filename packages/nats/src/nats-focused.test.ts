import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Logger, noopLogger, type PubSub, type Transport, TroupeError } from "@troupe/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createNatsPubSub } from "./nats-pubsub.js";
import { createNatsTransport } from "./nats-transport.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

let prefixCounter = 0;
/** A subject prefix no other test (or concurrent run) uses. */
const uniquePrefix = () =>
  `t${process.pid}_${Date.now().toString(36)}_${(prefixCounter++).toString(36)}`;

/** Resolves to the code of the error `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (TroupeError.isInstance(error)) return String(error.code);
    throw error;
  }
  throw new Error("expected a rejection");
}

function recordingLogger(lines: { level: string; message: string }[]): Logger {
  const record = (level: string) => (message: string) => lines.push({ level, message });
  return {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
    child: () => noopLogger,
  };
}

/** Connects at load time, so an unreachable server fails this file rather than skipping tests. */
async function connectProbe(): Promise<NatsConnection> {
  try {
    return await connect({ servers: NATS_URL });
  } catch (error) {
    throw new Error(
      `NATS is not reachable at ${NATS_URL} (set TROUPE_TEST_NATS_URL): ${String(error)}`,
    );
  }
}
const probe = await connectProbe();
afterAll(async () => {
  await probe.close();
});

const opened: (Transport | PubSub)[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((item) => item.close()));
});
/** Handlers that never answer on their own are released after each test, so close can drain. */
const hung: (() => void)[] = [];
afterEach(() => {
  for (const release of hung.splice(0)) release();
});
const hangingHandler = () =>
  new Promise<Uint8Array>((resolve) => {
    hung.push(() => resolve(new Uint8Array(0)));
  });

function transport(prefix: string, extra: { defaultTimeoutMs?: number; logger?: Logger } = {}) {
  const created = createNatsTransport({ servers: NATS_URL, subjectPrefix: prefix, ...extra });
  opened.push(created);
  return created;
}
function pubsub(prefix: string, logger?: Logger) {
  const created = createNatsPubSub({
    servers: NATS_URL,
    subjectPrefix: prefix,
    ...(logger ? { logger } : {}),
  });
  opened.push(created);
  return created;
}

describe("createNatsTransport", () => {
  it("carries the request, the reply and the sender's id across connections", async () => {
    const prefix = uniquePrefix();
    const server = transport(prefix);
    const client = transport(prefix);
    await server.listen("b", (request, from) => encode(`${from}->b:${decode(request)}`));
    const reply = await client.request("a", "b", encode("hello"));
    expect(decode(reply)).toBe("a->b:hello");
  });

  it("fails with UNKNOWN_NODE at once, not after the timeout, when nobody listens", async () => {
    const client = transport(uniquePrefix());
    // A timeout longer than the test's own would make this test fail if we waited for it.
    await expect(
      codeOf(client.request("a", "nobody", encode("x"), { timeoutMs: 600_000 })),
    ).resolves.toBe("UNKNOWN_NODE");
  });

  it("turns a throwing handler into REMOTE_ERROR with its message and code", async () => {
    const prefix = uniquePrefix();
    const server = transport(prefix);
    await server.listen("b", (request) => {
      if (decode(request) === "plain") throw new Error("boom\nwith a second line");
      throw new TroupeError("NOT_FOUND", "no such actor");
    });
    const client = transport(prefix);
    const plain = await client.request("a", "b", encode("plain")).catch((error: unknown) => error);
    expect(TroupeError.isInstance(plain, "REMOTE_ERROR")).toBe(true);
    expect((plain as TroupeError).message).toContain("boom\nwith a second line");
    const coded = await client.request("a", "b", encode("coded")).catch((error: unknown) => error);
    expect((coded as TroupeError).details).toMatchObject({
      nodeId: "b",
      remoteMessage: "no such actor",
      remoteCode: "NOT_FOUND",
    });
  });

  it("reports a handler that returns something other than bytes as REMOTE_ERROR", async () => {
    const prefix = uniquePrefix();
    await transport(prefix).listen("b", () => "text" as unknown as Uint8Array);
    const error = await transport(prefix)
      .request("a", "b", encode("x"))
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "REMOTE_ERROR")).toBe(true);
    expect((error as TroupeError).message).toContain("instead of a Uint8Array");
  });

  it("fails with TIMEOUT when the handler does not answer in time", async () => {
    const prefix = uniquePrefix();
    let release: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    await transport(prefix).listen("b", async () => {
      await answered;
      return encode("late");
    });
    const code = await codeOf(transport(prefix).request("a", "b", encode("x"), { timeoutMs: 50 }));
    release();
    expect(code).toBe("TIMEOUT");
  });

  it("allows one listener per node id, on this transport and across connections", async () => {
    const prefix = uniquePrefix();
    const first = transport(prefix);
    const second = transport(prefix);
    const stop = await first.listen("b", () => encode("first"));
    await expect(codeOf(first.listen("b", () => encode("again")))).resolves.toBe(
      "INVALID_ARGUMENT",
    );
    await expect(codeOf(second.listen("b", () => encode("second")))).resolves.toBe(
      "INVALID_ARGUMENT",
    );
    await stop();
    await stop();
    await expect(codeOf(second.request("a", "b", encode("x")))).resolves.toBe("UNKNOWN_NODE");
    await second.listen("b", () => encode("second"));
    expect(decode(await first.request("a", "b", encode("x")))).toBe("second");
  });

  it("keeps node ids with dots and underscores apart", async () => {
    const prefix = uniquePrefix();
    const server = transport(prefix);
    const ids = [".", "..", "a.b", "a_db", "a..b", "a_d_db", "a-b"];
    for (const id of ids) await server.listen(id, () => encode(id));
    const client = transport(prefix);
    for (const id of ids) expect(decode(await client.request("x", id, encode("")))).toBe(id);
  });

  it("rejects a request larger than the server's max_payload with INVALID_ARGUMENT", async () => {
    const client = transport(uniquePrefix());
    const limit = probe.info?.max_payload ?? 0;
    const error = await client
      .request("a", "b", new Uint8Array(limit + 1))
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as TroupeError).details.field).toBe("request");
  });

  it("rejects a pending request with CLOSED on close, and every later call", async () => {
    const prefix = uniquePrefix();
    await transport(prefix).listen("b", hangingHandler);
    const client = createNatsTransport({ servers: NATS_URL, subjectPrefix: prefix });
    const pending = codeOf(client.request("a", "b", encode("x"), { timeoutMs: 600_000 }));
    await client.request("a", "nobody", encode("x")).catch(() => {});
    await client.close();
    await expect(pending).resolves.toBe("CLOSED");
    await expect(codeOf(client.request("a", "b", encode("x")))).resolves.toBe("CLOSED");
    await expect(codeOf(client.listen("c", () => encode("")))).resolves.toBe("CLOSED");
    await client.close();
  });

  it("stops waiting when the signal aborts", async () => {
    const prefix = uniquePrefix();
    await transport(prefix).listen("b", hangingHandler);
    const controller = new AbortController();
    const pending = transport(prefix)
      .request("a", "b", encode("x"), { signal: controller.signal, timeoutMs: 600_000 })
      .catch((error: unknown) => error);
    controller.abort(new Error("caller gave up"));
    expect(await pending).toMatchObject({ message: "caller gave up" });
  });

  it("leaves a connection it was given open on close", async () => {
    const connection = await connect({ servers: NATS_URL });
    try {
      const shared = createNatsTransport({ connection, subjectPrefix: uniquePrefix() });
      await shared.listen("b", () => encode("ok"));
      expect(decode(await shared.request("a", "b", encode("")))).toBe("ok");
      await shared.close();
      expect(connection.isClosed()).toBe(false);
      await connection.flush();
    } finally {
      await connection.close();
    }
  });

  it("fails with UNAVAILABLE naming the server when it cannot connect", async () => {
    const client = createNatsTransport({ servers: "nats://127.0.0.1:1" });
    const error = await client.request("a", "b", encode("x")).catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
    expect((error as TroupeError).message).toContain("127.0.0.1:1");
    await client.close();
  });

  it("validates its options and names the bad one", () => {
    const fieldOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) return error.details.field;
        throw error;
      }
      throw new Error("expected INVALID_ARGUMENT");
    };
    expect(fieldOf(() => createNatsTransport({}))).toBe("servers");
    expect(fieldOf(() => createNatsTransport({ servers: NATS_URL, connection: probe }))).toBe(
      "servers",
    );
    expect(fieldOf(() => createNatsTransport({ servers: NATS_URL, subjectPrefix: "a.*" }))).toBe(
      "subjectPrefix",
    );
    expect(fieldOf(() => createNatsTransport({ servers: NATS_URL, subjectPrefix: "a..b" }))).toBe(
      "subjectPrefix",
    );
    expect(fieldOf(() => createNatsTransport({ servers: NATS_URL, defaultTimeoutMs: 0 }))).toBe(
      "defaultTimeoutMs",
    );
    expect(
      fieldOf(() => createNatsTransport({ connection: {} as unknown as NatsConnection })),
    ).toBe("connection");
    expect(
      fieldOf(() =>
        createNatsPubSub({ servers: NATS_URL, unknown: 1 } as unknown as { servers: string }),
      ),
    ).toBe("options");
  });
});

describe("createNatsPubSub", () => {
  it("delivers every valid channel name to its own subscribers only", async () => {
    const prefix = uniquePrefix();
    const subscriber = pubsub(prefix);
    const publisher = pubsub(prefix);
    const channels = ["a.b", "a_db", "a..b", ".", "..", "a_d_db", "x:y/z-1", "A.*", "a.>"].filter(
      (channel) => /^[A-Za-z0-9._:/-]+$/.test(channel),
    );
    const received = new Map<string, string[]>();
    for (const channel of channels) {
      received.set(channel, []);
      await subscriber.subscribe(channel, (message) => {
        received.get(channel)?.push(decode(message));
      });
    }
    for (const channel of channels) await publisher.publish(channel, encode(channel));
    await waitUntil(() => [...received.values()].every((messages) => messages.length > 0));
    // Flush a marker through the same path so late duplicates would have arrived by now.
    await publisher.publish("marker", encode(""));
    for (const channel of channels) expect(received.get(channel)).toEqual([channel]);
  });

  it("accepts a message of exactly max_payload bytes and rejects one byte more", async () => {
    const prefix = uniquePrefix();
    const bus = pubsub(prefix);
    const limit = await bus.maxMessageBytes();
    expect(limit).toBe(probe.info?.max_payload);
    const sizes: number[] = [];
    await bus.subscribe("big", (message) => {
      sizes.push(message.byteLength);
    });
    await bus.publish("big", new Uint8Array(limit));
    const error = await bus
      .publish("big", new Uint8Array(limit + 1))
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as TroupeError).details).toMatchObject({ field: "message", limit });
    await waitUntil(() => sizes.length === 1);
    expect(sizes).toEqual([limit]);
  });

  it("logs handler errors and keeps delivering", async () => {
    const prefix = uniquePrefix();
    const lines: { level: string; message: string }[] = [];
    const bus = pubsub(prefix, recordingLogger(lines));
    const seen: string[] = [];
    await bus.subscribe("c", (message) => {
      seen.push(decode(message));
      if (seen.length === 1) throw new Error("sync failure");
      if (seen.length === 2) return Promise.reject(new Error("async failure"));
    });
    for (const text of ["1", "2", "3"]) await bus.publish("c", encode(text));
    await waitUntil(() => seen.length === 3 && lines.length === 2);
    expect(seen).toEqual(["1", "2", "3"]);
    expect(lines.map((line) => line.level)).toEqual(["error", "error"]);
  });

  it("keeps subject prefixes apart", async () => {
    const one = pubsub(uniquePrefix());
    const two = pubsub(uniquePrefix());
    const seenByTwo: string[] = [];
    await two.subscribe("c", (message) => {
      seenByTwo.push(decode(message));
    });
    const seenByOne: string[] = [];
    await one.subscribe("c", (message) => {
      seenByOne.push(decode(message));
    });
    await one.publish("c", encode("for one"));
    await two.publish("c", encode("for two"));
    await waitUntil(() => seenByOne.length === 1 && seenByTwo.length === 1);
    expect(seenByOne).toEqual(["for one"]);
    expect(seenByTwo).toEqual(["for two"]);
  });

  it("is not told a subscription is live before the server has its interest", async () => {
    const connection = await connect({ servers: NATS_URL });
    const prefix = uniquePrefix();
    const bus = createNatsPubSub({ connection, subjectPrefix: prefix });
    const sender = pubsub(prefix);
    opened.push(bus);
    // Hold the round trip that confirms the SUB until released.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const flush = connection.flush.bind(connection);
    let flushes = 0;
    connection.flush = () => {
      flushes++;
      return held.then(flush);
    };
    try {
      const got: string[] = [];
      let live = false;
      const subscribing = bus
        .subscribe("race", (message) => {
          got.push(decode(message));
        })
        .then(() => {
          live = true;
        });
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(flushes, "subscribe waits on the server's confirmation").toBe(1);
      expect(live, "subscribe resolved before the server confirmed the SUB").toBe(false);
      release();
      await subscribing;
      await sender.publish("race", encode("wake"));
      await waitUntil(() => got.length === 1);
      expect(got).toEqual(["wake"]);
    } finally {
      connection.flush = flush;
      release();
      await bus.close();
      await connection.close();
    }
  });
});

/** Polls until `condition` holds (real time; delivery crosses the network). */
async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
