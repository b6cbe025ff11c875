// Claims in one Store, states in another: the cluster directory on etcd (or a second memory
// Store) while the actors' states live in PostgreSQL (or memory). State writes are then fenced
// by token, and must be exactly as safe as when claims and states share one Store.
import {
  createMemoryQueue,
  createMemoryStore,
  createMemoryTransport,
  ManualClock,
  type Store,
  type Transport,
} from "@troupe/core";
import { createEtcdStore } from "@troupe/etcd";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type ClusterNode, createClusterNode, type Placement } from "../src/cluster/index.js";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";

const LEASE_MS = 3000;
const etcdUrl = process.env.TROUPE_TEST_ETCD_URL ?? "etcd://127.0.0.1:2379";

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

interface Stores {
  /** Claims, leases: one handle per node, as separate processes would have. */
  directory(): Store;
  /** States: one handle per node. */
  states(): Store;
  cleanUp(): Promise<void>;
}

const schemas = scratchSchemas("actors_split", { from: import.meta.url });
let etcdRun = 0;
const setups: Record<string, () => Stores> = {
  "directory in one memory Store, states in another": () => {
    const directory = createMemoryStore();
    const states = createMemoryStore();
    return { directory: () => directory, states: () => states, cleanUp: async () => {} };
  },
  "directory on etcd, states on PostgreSQL": () => {
    const prefix = `troupe-test/actors_split_${process.pid}_${Date.now().toString(36)}_${etcdRun++}/`;
    const schema = schemas.fresh();
    const opened: Store[] = [];
    const track = (store: Store) => {
      opened.push(store);
      return store;
    };
    return {
      directory: () => track(createEtcdStore({ url: etcdUrl, prefix })),
      states: () => track(createPostgresStore({ connectionString: postgresUrl, schema })),
      async cleanUp() {
        for (const store of opened.splice(0)) await store.close().catch(() => undefined);
        const client = new Etcd3({ hosts: etcdUrl.replace(/^etcd:/, "http:") });
        await client.delete().prefix(prefix);
        client.close();
      },
    };
  },
};

beforeAll(() => schemas.assertReachable());
afterAll(() => schemas.dropAll());

const running: Node[] = [];
const cleanUps: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const node of running.splice(0)) {
    await node.system.close().catch(() => undefined);
    await node.cluster.close().catch(() => undefined);
  }
  for (const cleanUp of cleanUps.splice(0)) await cleanUp();
});

async function startNode(
  stores: Stores,
  transport: Transport,
  id: string,
  placement?: Placement,
): Promise<Node> {
  const clock = new ManualClock();
  const states = stores.states();
  const cluster = createClusterNode({
    store: stores.directory(),
    stateStore: states,
    transport,
    clock,
    nodeId: id,
    leaseMs: LEASE_MS,
    heartbeatMs: 1000,
    capabilities: [Counter],
    ...(placement ? { placement } : {}),
  });
  const system = createActorSystem({
    store: states,
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

async function startCluster(setup: () => Stores, placement?: Placement) {
  const stores = setup();
  cleanUps.push(() => stores.cleanUp());
  const transport = createMemoryTransport({ defaultTimeoutMs: 30_000 });
  const nodes: Node[] = [];
  for (const id of ["a", "b", "c"]) nodes.push(await startNode(stores, transport, id, placement));
  return { stores, nodes };
}

const hosts = (nodes: readonly Node[], key: string) =>
  nodes.filter((node) => node.system.isActive({ type: "Counter", key })).map((node) => node.id);

const onB: Placement = (_address, nodes) =>
  nodes.some((node) => node.nodeId === "b") ? "b" : (nodes[0]?.nodeId ?? "");

describe.each(Object.entries(setups))("a cluster with its %s", (_name, setup) => {
  it("fences by token: the directory says so", async () => {
    const { nodes } = await startCluster(setup);
    expect((nodes[0] as Node).cluster.directory.fencing).toBe("token");
  });

  it("counts 2,000 concurrent increments from three nodes to exactly 2,000, on one activation", async () => {
    const { nodes } = await startCluster(setup);
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 2000; i++) {
      calls.push((nodes[i % 3] as Node).system.get(Counter, "hot").increment(1));
    }
    const results = await Promise.all(calls);
    expect(new Set(results).size).toBe(2000);
    expect(Math.max(...results)).toBe(2000);
    for (const node of nodes) expect(await node.system.get(Counter, "hot").get()).toBe(2000);
    expect(hosts(nodes, "hot")).toHaveLength(1);
  });

  it("keeps a stalled owner from overwriting the state of the node that took its actor over", async () => {
    const { nodes, stores } = await startCluster(setup, onB);
    const [a, b, c] = nodes as [Node, Node, Node];
    for (let i = 0; i < 5; i++) await a.system.get(Counter, "alice").increment(1);
    expect(hosts(nodes, "alice")).toEqual(["b"]);

    // b stalls (its clock stops) while the others move past its lease and take alice over.
    await a.clock.advance(LEASE_MS);
    await c.clock.advance(LEASE_MS);
    expect(await a.system.get(Counter, "alice").increment(1)).toBe(6);
    expect(hosts([a, c], "alice")).toHaveLength(1);

    // b still believes it owns alice: its write fails the fence and its activation is dropped.
    await expect(b.system.get(Counter, "alice").increment(100)).rejects.toMatchObject({
      code: "LEASE_LOST",
    });
    expect(b.system.isActive({ type: "Counter", key: "alice" })).toBe(false);
    expect(await b.system.get(Counter, "alice").increment(1)).toBe(7);
    const states = stores.states();
    const saved = await states.list({ prefix: "actors/state/" });
    expect(saved.map((entry) => new TextDecoder().decode(entry.value))).toEqual([
      JSON.stringify({ count: 7 }),
    ]);
  });
});
