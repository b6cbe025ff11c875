import { createMemoryQueue, createMemoryStore, type Transport } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { afterEach, describe, expect, it } from "vitest";
import { createClusterNode } from "../src/cluster/index.js";
import { type ActorSystem, createActorSystem } from "../src/index.js";
import { Counter } from "./cluster-worker/counter.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("actor systems in a cluster over NATS (one process, one connection per node)", () => {
  it("counts 10,000 concurrent increments from three nodes to exactly 10,000", async () => {
    const store = createMemoryStore();
    const subjectPrefix = `troupe_test.actors_nats_${process.pid}_${Date.now().toString(36)}`;
    const systems: ActorSystem[] = [];
    for (const id of ["n1", "n2", "n3"]) {
      const transport: Transport = createNatsTransport({ servers: NATS_URL, subjectPrefix });
      const node = createClusterNode({ store, transport, nodeId: id, capabilities: [Counter] });
      const system = createActorSystem({
        store,
        queue: createMemoryQueue({ queueName: `actors-${id}` }),
        actors: [Counter],
        directory: node.directory,
        remoting: node.remoting,
      });
      await node.join();
      systems.push(system);
      cleanups.push(async () => {
        await system.close();
        await node.close();
        await transport.close();
      });
    }
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 10_000; i++) {
      calls.push((systems[i % 3] as ActorSystem).get(Counter, "hot").increment(1));
    }
    const results = await Promise.all(calls);
    expect(new Set(results).size).toBe(10_000);
    expect(Math.max(...results)).toBe(10_000);
    for (const system of systems) expect(await system.get(Counter, "hot").get()).toBe(10_000);
    const hosts = systems.filter((system) => system.isActive({ type: "Counter", key: "hot" }));
    expect(hosts).toHaveLength(1);
  });
});
