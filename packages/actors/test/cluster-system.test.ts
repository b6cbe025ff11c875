import {
  createMemoryQueue,
  createMemoryStore,
  createMemoryTransport,
  ManualClock,
  type Store,
  type Transport,
} from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type ClusterNode, createClusterNode, type Placement } from "../src/cluster/index.js";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";

const LEASE_MS = 3000;

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

interface Node {
  readonly id: string;
  readonly clock: ManualClock;
  readonly cluster: ClusterNode;
  readonly system: ActorSystem;
}

const running: Node[] = [];
afterEach(async () => {
  for (const node of running.splice(0)) {
    await node.system.close().catch(() => undefined);
    await node.cluster.close().catch(() => undefined);
  }
});

// Every node has its own clock (advanced together by `advance`), so a test can stop one node's
// time to simulate a process that died without leaving.
async function startNode(
  store: Store,
  transport: Transport,
  id: string,
  placement?: Placement,
): Promise<Node> {
  const clock = new ManualClock();
  const cluster = createClusterNode({
    store,
    transport,
    clock,
    nodeId: id,
    leaseMs: LEASE_MS,
    heartbeatMs: 1000,
    capabilities: [Counter],
    ...(placement ? { placement } : {}),
  });
  const system = createActorSystem({
    store,
    queue: createMemoryQueue({ queueName: `actors-${id}`, clock }),
    actors: [Counter],
    clock,
    nodeId: id,
    directory: cluster.directory,
    remoting: cluster.remoting,
  });
  await cluster.join();
  const node = { id, clock, cluster, system };
  running.push(node);
  return node;
}

async function startCluster(placement?: Placement) {
  const store = createMemoryStore();
  const transport = createMemoryTransport({ defaultTimeoutMs: 30_000 });
  const nodes = [];
  for (const id of ["a", "b", "c"]) nodes.push(await startNode(store, transport, id, placement));
  return { store, transport, nodes };
}

const hosts = (nodes: readonly Node[], key: string) =>
  nodes.filter((node) => node.system.isActive({ type: "Counter", key })).map((node) => node.id);

describe("actor systems in a cluster (one process, memory Store and Transport)", () => {
  it("routes calls from every node to the one activation on the owner", async () => {
    const { nodes } = await startCluster();
    const results: number[] = [];
    for (const node of [...nodes, ...nodes]) {
      results.push(await node.system.get(Counter, "alice").increment(1));
    }
    expect(results).toEqual([1, 2, 3, 4, 5, 6]);
    expect(hosts(nodes, "alice")).toHaveLength(1);
  });

  it("spreads actors over the nodes and calls each where it lives", async () => {
    const { nodes } = await startCluster();
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await Promise.all(
      keys.map((key, i) => (nodes[i % 3] as Node).system.get(Counter, key).increment(i)),
    );
    for (const [i, key] of keys.entries()) {
      expect(hosts(nodes, key)).toHaveLength(1);
      expect(await (nodes[(i + 1) % 3] as Node).system.get(Counter, key).get()).toBe(i);
    }
    const perNode = nodes.map((node) => keys.filter((key) => hosts([node], key).length).length);
    expect(perNode.filter((count) => count > 0).length).toBeGreaterThan(1);
  });

  it("re-activates a dead node's actors elsewhere with their last saved state, after its lease lapses", async () => {
    const onB: Placement = (_address, nodes) =>
      nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");
    const { nodes } = await startCluster(onB);
    const [a, b, c] = nodes as [Node, Node, Node];
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    await c.system.get(Counter, "bob").increment(7);
    expect(hosts(nodes, "alice")).toEqual(["b"]);
    expect(hosts(nodes, "bob")).toEqual(["b"]);

    // b dies: it stops answering and stops renewing its lease (its clock no longer moves).
    await b.cluster.remoting.close();
    // Its actors stay unreachable while its lease runs...
    await expect(a.system.get(Counter, "alice").increment(1)).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    await a.clock.advance(LEASE_MS - 1000);
    await c.clock.advance(LEASE_MS - 1000);
    await expect(c.system.get(Counter, "alice").get()).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    // ...then on a live node, from the saved state.
    await a.clock.advance(1000);
    await c.clock.advance(1000);
    expect(await a.system.get(Counter, "alice").increment(1)).toBe(6);
    expect(await c.system.get(Counter, "bob").increment(1)).toBe(8);
    expect(await c.system.get(Counter, "alice").get()).toBe(6);
    const live = [a, c];
    expect(hosts(live, "alice")).toHaveLength(1);
    expect(hosts(live, "bob")).toHaveLength(1);
  });

  it("counts 10,000 concurrent increments from three nodes to exactly 10,000", async () => {
    const { nodes } = await startCluster();
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 10_000; i++) {
      calls.push((nodes[i % 3] as Node).system.get(Counter, "hot").increment(1));
    }
    const results = await Promise.all(calls);
    // Every increment ran exactly once, one at a time: the results are 1..10,000.
    expect(new Set(results).size).toBe(10_000);
    expect(Math.max(...results)).toBe(10_000);
    for (const node of nodes) expect(await node.system.get(Counter, "hot").get()).toBe(10_000);
    expect(hosts(nodes, "hot")).toHaveLength(1);
  });
});

describe("a stalled owner in a cluster", () => {
  it("cannot overwrite the state of the node that took its actor over", async () => {
    const onB: Placement = (_address, nodes) =>
      nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");
    const { nodes, store } = await startCluster(onB);
    const [a, b, c] = nodes as [Node, Node, Node];
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    expect(hosts(nodes, "alice")).toEqual(["b"]);

    // b stalls (its clock stops) while the others move on past its lease and take alice over.
    await a.clock.advance(LEASE_MS);
    await c.clock.advance(LEASE_MS);
    expect(await a.system.get(Counter, "alice").increment(1)).toBe(6);
    expect(hosts([a, c], "alice")).toHaveLength(1);

    // b still believes it owns alice; its write is fenced off and its activation dropped.
    await expect(b.system.get(Counter, "alice").increment(100)).rejects.toMatchObject({
      code: "LEASE_LOST",
    });
    expect(b.system.isActive({ type: "Counter", key: "alice" })).toBe(false);
    // Its next call learns the claim is gone and goes to the new owner.
    expect(await b.system.get(Counter, "alice").increment(1)).toBe(7);
    expect(await c.system.get(Counter, "alice").get()).toBe(7);
    const saved = await store.list({ prefix: "actors/state/" });
    expect(saved.map((entry) => new TextDecoder().decode(entry.value))).toEqual([
      JSON.stringify({ count: 7 }),
    ]);
  });
});

describe("a node that notices it lost its lease", () => {
  it("drops the activations it no longer owns, without a call and without saving", async () => {
    const onB: Placement = (_address, nodes) =>
      nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");
    const { nodes } = await startCluster(onB);
    const [a, b, c] = nodes as [Node, Node, Node];
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    expect(hosts(nodes, "alice")).toEqual(["b"]);

    // b stalls past its lease; alice moves on.
    await a.clock.advance(LEASE_MS);
    await c.clock.advance(LEASE_MS);
    expect(await a.system.get(Counter, "alice").increment(1)).toBe(6);
    expect(b.system.isActive({ type: "Counter", key: "alice" })).toBe(true);

    // b wakes up: its overdue heartbeat finds the lease lapsed and the system drops alice.
    b.clock.set(a.clock.now());
    await b.clock.advance(0);
    expect(b.system.isActive({ type: "Counter", key: "alice" })).toBe(false);
    expect(b.cluster.membership.holdsLease()).toBe(true); // joined again, new incarnation
    expect(await b.system.get(Counter, "alice").increment(1)).toBe(7);
    expect(hosts(nodes, "alice")).toHaveLength(1);
  });
});

describe("a node leaving gracefully", () => {
  it("hands its actors over at once: callers see no error and no lost increment", async () => {
    const onB: Placement = (_address, nodes) =>
      nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");
    const { nodes } = await startCluster(onB);
    const [a, b, c] = nodes as [Node, Node, Node];
    const keys = ["k1", "k2", "k3", "k4"];
    for (const key of keys) await a.system.get(Counter, key).increment(10);
    for (const key of keys) expect(hosts(nodes, key)).toEqual(["b"]);

    await b.system.close();
    await b.cluster.close();
    // No clock moves: a and c still have b in their cached node list and b as the cached owner.
    for (const key of keys) expect(await a.system.get(Counter, key).increment(1)).toBe(11);
    for (const key of keys) expect(await c.system.get(Counter, key).get()).toBe(11);
    for (const key of keys) expect(hosts([a, c], key)).toHaveLength(1);
  });
});
