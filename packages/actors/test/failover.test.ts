import {
  createMemoryQueue,
  createMemoryStore,
  createMemoryTransport,
  ManualClock,
  type Store,
  type Transport,
  TroupeError,
} from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type ClusterNode, createClusterNode, type Placement } from "../src/cluster/index.js";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";

// A node SIGKILLed without its transport noticing: requests to it are delivered to a
// subscription nobody serves, and dropped. Its lease then lapses on the others' clocks.

const LEASE_MS = 3000;
const SKEW_MS = 500;
/** How long calls waiting on a lapsed node still get to be answered: a third of the lease. */
const GRACE_MS = LEASE_MS / 3;
const CALL_TIMEOUT_MS = 30_000;

const gates: (() => void)[] = [];

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  callTimeoutMs: CALL_TIMEOUT_MS,
  actions: {
    increment: (ctx, by: number) => {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    // Declared safe to repeat: sets the count rather than adding to it.
    set: {
      idempotent: true,
      handler: (ctx, count: number) => {
        ctx.state.count = count;
        return count;
      },
    },
    // Takes as long as the test says (longer than a lease).
    slow: {
      readOnly: true,
      handler: (ctx) =>
        new Promise<number>((resolve) => gates.push(() => resolve(ctx.state.count))),
    },
  },
});

/**
 * The memory Transport, except that requests to `dropped` nodes vanish without an answer, and
 * answers from `held` nodes wait until `release()`.
 */
function droppingTransport(inner: Transport, dropped: Set<string>, held: Set<string>) {
  let open: () => void = () => {};
  let released = new Promise<void>((resolve) => {
    open = resolve;
  });
  const transport: Transport = {
    name: inner.name,
    listen: (nodeId, handler) => inner.listen(nodeId, handler),
    async request(from, nodeId, request, options) {
      if (dropped.has(nodeId)) return new Promise<Uint8Array>(() => {});
      const wait = held.has(nodeId) ? released : undefined;
      const reply = await inner.request(from, nodeId, request, options);
      await wait;
      return reply;
    },
    close: () => inner.close(),
  };
  const release = () => {
    open();
    released = new Promise<void>((resolve) => {
      open = resolve;
    });
  };
  return { transport, release };
}

interface Node {
  readonly id: string;
  readonly clock: ManualClock;
  readonly cluster: ClusterNode;
  readonly system: ActorSystem;
}

const running: Node[] = [];
afterEach(async () => {
  gates.splice(0).forEach((open) => {
    open();
  });
  for (const node of running.splice(0)) {
    await node.system.close().catch(() => undefined);
    await node.cluster.close().catch(() => undefined);
  }
});

const onB: Placement = (_address, nodes) =>
  nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");

async function startCluster() {
  const store: Store = createMemoryStore();
  const dropped = new Set<string>();
  const held = new Set<string>();
  const { transport, release } = droppingTransport(
    createMemoryTransport({ defaultTimeoutMs: 60_000 }),
    dropped,
    held,
  );
  const nodes: Node[] = [];
  for (const id of ["a", "b", "c"]) {
    const clock = new ManualClock();
    const cluster = createClusterNode({
      store,
      transport,
      clock,
      nodeId: id,
      leaseMs: LEASE_MS,
      heartbeatMs: 1000,
      maxClockSkewMs: SKEW_MS,
      capabilities: [Counter],
      placement: onB,
    });
    const system = createActorSystem({
      store,
      queue: createMemoryQueue({ queueName: `actors-${id}`, clock }),
      actors: [Counter],
      clock,
      nodeId: id,
      directory: cluster.directory,
      remoting: cluster.remoting,
      random: () => 0.5,
    });
    await cluster.join();
    const node = { id, clock, cluster, system };
    running.push(node);
    nodes.push(node);
  }
  const [a, b, c] = nodes as [Node, Node, Node];
  /** Moves the clocks of `live` nodes forward together, in steps; returns the time passed. */
  const advance = async (ms: number, live: readonly Node[] = [a, c]) => {
    for (let passed = 0; passed < ms; passed += 100) {
      for (const node of live) await node.clock.advance(100);
    }
  };
  return { a, b, c, dropped, held, release, advance };
}

/** Records when a call settles (ms after `start` on `clock`). */
function track<T>(call: Promise<T>, clock: ManualClock) {
  const start = clock.now();
  const outcome: { settledAfterMs?: number; value?: T; error?: unknown } = {};
  const done = call.then(
    (value) => {
      outcome.settledAfterMs = clock.now() - start;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.settledAfterMs = clock.now() - start;
      outcome.error = error;
    },
  );
  return { outcome, done };
}

describe("a call in flight to a node that dies", () => {
  it("fails with OUTCOME_UNKNOWN within lease + skew + grace, not after the call timeout", async () => {
    const { a, b, dropped, advance } = await startCluster();
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    expect(b.system.isActive({ type: "Counter", key: "alice" })).toBe(true);

    // b dies: its clock stops (no more renewals) and requests to it are dropped.
    dropped.add("b");
    const call = track(a.system.get(Counter, "alice").increment(1), a.clock);
    await advance(LEASE_MS + SKEW_MS + GRACE_MS + 300);
    expect(call.outcome.settledAfterMs).toBeDefined();

    expect(TroupeError.isInstance(call.outcome.error, "OUTCOME_UNKNOWN")).toBe(true);
    expect((call.outcome.error as TroupeError).details).toMatchObject({
      node: "b",
      action: "increment",
    });
    expect(call.outcome.settledAfterMs).toBeLessThanOrEqual(LEASE_MS + SKEW_MS + GRACE_MS + 100);
    // Not before b's lease lapsed and b had a heartbeat's grace to answer.
    expect(call.outcome.settledAfterMs).toBeGreaterThanOrEqual(LEASE_MS + SKEW_MS + GRACE_MS);

    // The caller decides: here it retries, and the actor answers from its last saved state.
    expect(await a.system.get(Counter, "alice").increment(1)).toBe(6);
  });

  it("re-routes idempotent and read-only calls to the actor's next owner on its own", async () => {
    const { a, c, dropped, advance } = await startCluster();
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    await a.system.get(Counter, "bob").increment(7);

    dropped.add("b");
    const read = track(a.system.get(Counter, "alice").get(), a.clock);
    const write = track(c.system.get(Counter, "bob").set(9), c.clock);
    await advance(LEASE_MS + SKEW_MS + GRACE_MS + 500);
    expect(read.outcome.settledAfterMs).toBeDefined();
    expect(write.outcome.settledAfterMs).toBeDefined();

    expect(read.outcome.error).toBeUndefined();
    expect(read.outcome.value).toBe(5);
    expect(write.outcome.error).toBeUndefined();
    expect(write.outcome.value).toBe(9);
    // Lease + skew + grace, then a jittered backoff of at most 50 ms, then the takeover.
    for (const call of [read, write]) {
      expect(call.outcome.settledAfterMs).toBeLessThanOrEqual(LEASE_MS + SKEW_MS + GRACE_MS + 200);
    }
    expect(await c.system.get(Counter, "bob").get()).toBe(9);
  });

  it("still takes an answer that comes within the grace after the node's lease lapsed", async () => {
    const { a, held, release, advance } = await startCluster();
    await a.system.get(Counter, "alice").increment(1);
    // b stalls (its clock stops) and its answer is late: after its lease lapsed, within the grace.
    held.add("b");
    const call = track(a.system.get(Counter, "alice").increment(1), a.clock);
    await advance(LEASE_MS + SKEW_MS + GRACE_MS / 2);
    expect(call.outcome.settledAfterMs).toBeUndefined();
    release();
    await call.done;
    expect(call.outcome.error).toBeUndefined();
    expect(call.outcome.value).toBe(2);
  });

  it("keeps waiting on a live node whose turn outlasts the lease", async () => {
    const { a, b, c, advance } = await startCluster();
    await a.system.get(Counter, "alice").increment(3);
    const call = track(a.system.get(Counter, "alice").slow(), a.clock);
    // Every node lives (b renews its lease) well past a lease length.
    await advance(3 * LEASE_MS, [a, b, c]);
    expect(call.outcome.settledAfterMs).toBeUndefined();
    expect(gates).toHaveLength(1);
    gates.splice(0).forEach((open) => {
      open();
    });
    await call.done;
    expect(call.outcome.error).toBeUndefined();
    expect(call.outcome.value).toBe(3);
  });
});
