import {
  createMemoryStore,
  createMemoryTransport,
  ManualClock,
  type Transport,
  TroupeError,
  utf8,
} from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { afterEach, describe, expect, it } from "vitest";
import {
  createClusterNode,
  createTransportRemoting,
  decodeRemoteReply,
} from "../src/cluster/index.js";
import type { ActorRemoting, RemoteCall, RemoteReply } from "../src/directory.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

const call = (overrides: Partial<RemoteCall> = {}): RemoteCall => ({
  address: { type: "Counter", key: "alice" },
  action: "increment",
  args: [1],
  oneWay: false,
  chain: ["c1"],
  timeoutMs: 1000,
  ...overrides,
});

// A node that answers like an actor system would: runs Counter calls, reports `moved` for
// Elsewhere actors, and throws for `fail`.
async function serve(remoting: ActorRemoting, seen: RemoteCall[] = []): Promise<void> {
  let count = 0;
  await remoting.listen(async (incoming): Promise<RemoteReply> => {
    seen.push(incoming);
    if (incoming.address.type === "Elsewhere") return { kind: "moved" };
    if (incoming.action === "fail") {
      throw new TroupeError("ACTOR_FAILED", "counter alice refused");
    }
    if (incoming.action === "echo") return { kind: "ok", value: incoming.args[0] };
    count += incoming.args[0] as number;
    return { kind: "ok", value: count };
  });
}

const transports: { name: string; open: (tag: string) => Transport }[] = [
  { name: "memory", open: () => createMemoryTransport() },
  {
    name: "nats",
    open: (tag) =>
      createNatsTransport({
        servers: NATS_URL,
        subjectPrefix: `troupe_test.actors_${tag}`,
        drainTimeoutMs: 100,
      }),
  },
];

describe.each(transports)("remoting over the $name transport", ({ name, open }) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  let tagCounter = 0;

  // Two nodes; with NATS each has its own connection, as two processes would.
  async function pair() {
    const tag = `${process.pid}_${Date.now().toString(36)}_${tagCounter++}`;
    const transportA = open(tag);
    const transportB = name === "memory" ? transportA : open(tag);
    const a = createTransportRemoting({ transport: transportA, nodeId: "node-a" });
    const b = createTransportRemoting({ transport: transportB, nodeId: "node-b" });
    cleanups.push(async () => {
      await a.close();
      await b.close();
      await transportA.close();
      if (transportB !== transportA) await transportB.close();
    });
    return { a, b, transportA };
  }

  it("delivers a call to the node and brings its reply back", async () => {
    const { a, b } = await pair();
    const seen: RemoteCall[] = [];
    await serve(b, seen);
    expect(await a.send("node-b", call())).toEqual({ kind: "ok", value: 1 });
    expect(await a.send("node-b", call({ args: [41] }))).toEqual({ kind: "ok", value: 42 });
    expect(seen[0]).toEqual(call());
  });

  it("carries moved replies and thrown errors with their code", async () => {
    const { a, b } = await pair();
    await serve(b);
    expect(await a.send("node-b", call({ address: { type: "Elsewhere", key: "" } }))).toEqual({
      kind: "moved",
    });
    expect(await a.send("node-b", call({ action: "fail" }))).toEqual({
      kind: "error",
      error: { name: "TroupeError", message: "counter alice refused", code: "ACTOR_FAILED" },
    });
  });

  it("round-trips values JSON alone cannot hold", async () => {
    const { a, b } = await pair();
    await serve(b);
    const value = { big: 2n ** 70n, when: new Date(Date.UTC(2026, 0, 1)), nothing: null };
    expect(await a.send("node-b", call({ action: "echo", args: [value] }))).toEqual({
      kind: "ok",
      value,
    });
    expect(await a.send("node-b", call({ action: "echo", args: [] }))).toEqual({ kind: "ok" });
  });

  it("answers a malformed message with an error reply and keeps serving", async () => {
    const { a, b, transportA } = await pair();
    await serve(b);
    for (const bytes of [
      utf8("not json"),
      utf8(JSON.stringify({ address: { type: "Counter" }, action: "increment" })),
      utf8(JSON.stringify({ ...call(), args: "1" })),
      new Uint8Array([0xff, 0xfe]),
    ]) {
      const reply = decodeRemoteReply(await transportA.request("node-a", "node-b", bytes));
      expect(reply).toMatchObject({ kind: "error", error: { code: "INVALID_ARGUMENT" } });
    }
    const bad = decodeRemoteReply(
      await transportA.request("node-a", "node-b", utf8(JSON.stringify({ ...call(), args: 1 }))),
    );
    expect(bad.kind === "error" && bad.error.message).toMatch(/args/);
    expect(await a.send("node-b", call())).toEqual({ kind: "ok", value: 1 });
  });

  it("answers moved for a node nobody serves (the call was never delivered)", async () => {
    const { a } = await pair();
    expect(await a.send("node-gone", call())).toEqual({ kind: "moved" });
  });

  it("stops serving on close", async () => {
    const { a, b } = await pair();
    await serve(b);
    await b.close();
    expect(await a.send("node-b", call())).toEqual({ kind: "moved" });
    await expect(b.send("node-a", call())).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("createClusterNode", () => {
  it("joins only once its system serves calls, so nobody is sent to a node that cannot answer", async () => {
    const memory = createMemoryTransport();
    let registered = false;
    const slow: Transport = {
      ...memory,
      async listen(nodeId, handler) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        const stop = await memory.listen(nodeId, handler);
        registered = true;
        return stop;
      },
    };
    const node = createClusterNode({
      store: createMemoryStore(),
      transport: slow,
      nodeId: "slow-node",
      clock: new ManualClock(),
    });
    // What createActorSystem does: start listening without waiting.
    void node.remoting.listen(async () => ({ kind: "ok", value: 1 }));
    await node.join();
    expect(registered).toBe(true);
    expect(node.membership.holdsLease()).toBe(true);
    await node.close();
    await memory.close();
  });
});
