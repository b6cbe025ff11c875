// Two cluster nodes in one process sharing one memory Store's data through separate Store
// handles, as processes would: the fixture of the mixed-commit and remote-staging tests.
import {
  type ActorSystem,
  type ClusterNode,
  createActorSystem,
  createClusterNode,
} from "@troupe/actors";
import { createMemoryQueue, createMemoryTransport, type Store, type StoreOp } from "@troupe/core";
import { createDecisionLog } from "../src/index.js";
import { Account } from "./bank.js";

/** Another handle on `data` (a distinct Store object), recording its commits. */
export function handle(data: Store, commits: StoreOp[][] = []): Store {
  return new Proxy(data, {
    get(target, name) {
      if (name === "commit") {
        return (ops: readonly StoreOp[]) => {
          commits.push([...ops]);
          return target.commit(ops);
        };
      }
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Joined nodes `n0`, `n1`, … on `stores`, with even accounts on n0 and odd ones on n1. */
export async function openTwoNodes(
  stores: readonly Store[],
): Promise<{ systems: ActorSystem[]; nodes: ClusterNode[]; close(): Promise<void> }> {
  const transport = createMemoryTransport();
  const systems: ActorSystem[] = [];
  const nodes: ClusterNode[] = [];
  for (const [i, store] of stores.entries()) {
    const node = createClusterNode({
      store,
      transport,
      nodeId: `n${i}`,
      placement: (address) => (Number(address.key) % 2 === 0 ? "n0" : "n1"),
    });
    systems.push(
      createActorSystem({
        store,
        queue: createMemoryQueue(),
        actors: [Account, createDecisionLog({ store }).actor],
        nodeId: node.nodeId,
        directory: node.directory,
        remoting: node.remoting,
      }),
    );
    nodes.push(node);
  }
  for (const node of nodes) await node.join();
  return {
    systems,
    nodes,
    async close() {
      for (const system of systems) await system.close();
      for (const node of nodes) await node.close();
    },
  };
}

/** An account's stored state (value and lock), read straight from the shared data. */
export async function storedAccount(
  data: Store,
  key: number,
): Promise<{ value: { balance: number }; lock?: unknown } | undefined> {
  const entry = await data.get(`actors/state/Account/${key}`);
  return entry === undefined
    ? undefined
    : (JSON.parse(new TextDecoder().decode(entry.value)) as {
        value: { balance: number };
        lock?: unknown;
      });
}
