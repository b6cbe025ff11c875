// The cluster nodes of the cross-node benches (bench/index.ts, cost-cluster.ts, count-cluster.ts):
// one per Store, each hosting Account and the decision log's actor on a NATS transport of its own.
import {
  type ActorRemoting,
  type ActorSystem,
  type ClusterNode,
  createActorSystem,
  createClusterNode,
} from "@troupe/actors";
import { createMemoryQueue, type Store } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createDecisionLog } from "../src/index.js";
import { Account } from "./account.js";

export interface BenchNodesOptions {
  /** One node per Store, named `<runId>-<index>`. */
  readonly stores: readonly Store[];
  readonly natsUrl: string;
  /** Names the nodes and their NATS subjects (`<runId>.actors`). */
  readonly runId: string;
  /** Wraps a node's remoting (to count its calls); default: the node's own. */
  readonly remoting?: (remoting: ActorRemoting, index: number) => ActorRemoting;
}

export interface BenchNodes {
  /** The nodes' actor systems, in the order of the Stores. */
  readonly systems: readonly ActorSystem[];
  /** Closes the systems, then the nodes, then their transports; the Stores stay the caller's. */
  close(): Promise<void>;
}

/** Starts a cluster node per Store and waits until every one has joined. */
export async function startBenchNodes(options: BenchNodesOptions): Promise<BenchNodes> {
  const { stores, natsUrl, runId } = options;
  const systems: ActorSystem[] = [];
  const nodes: ClusterNode[] = [];
  const transports: ReturnType<typeof createNatsTransport>[] = [];
  for (const [i, store] of stores.entries()) {
    const transport = createNatsTransport({ servers: natsUrl, subjectPrefix: `${runId}.actors` });
    const node = createClusterNode({ store, transport, nodeId: `${runId}-${i}`, leaseMs: 30_000 });
    transports.push(transport);
    nodes.push(node);
    systems.push(
      createActorSystem({
        store,
        queue: createMemoryQueue({ queueName: `q${i}` }),
        actors: [Account, createDecisionLog({ store }).actor],
        nodeId: node.nodeId,
        directory: node.directory,
        remoting: options.remoting?.(node.remoting, i) ?? node.remoting,
      }),
    );
  }
  for (const node of nodes) await node.join();
  return {
    systems,
    async close() {
      for (const system of systems) await system.close();
      for (const node of nodes) await node.close();
      for (const transport of transports) await transport.close();
    },
  };
}
