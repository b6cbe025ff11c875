// Ports whose adapter is still loading: the runtime hands them to the engines at once (its
// composition is synchronous) and each call waits for the adapter the first time only.
import {
  listRanges,
  type PubSub,
  type Queue,
  type Store,
  type StorePairedQueue,
  storePairing,
} from "@troupe/core";

type Use<T> = <R>(call: (port: T) => Promise<R>) => Promise<R>;

function deferred<T>(opening: Promise<T>): {
  use: Use<T>;
  close(close: (port: T) => Promise<void>): Promise<void>;
} {
  let ready: T | undefined;
  // Handled here so a failed load is not an unhandled rejection; callers see it on use.
  opening.then(
    (port) => {
      ready = port;
    },
    () => {},
  );
  return {
    use: (call) => (ready === undefined ? opening.then(call) : call(ready)),
    // A port that never opened holds nothing to close.
    close: (close) => opening.then(close, () => {}),
  };
}

/** A Store forwarding to the one `opening` yields. */
export function deferStore(name: string, opening: Promise<Store>): Store {
  const { use, close } = deferred(opening);
  return {
    name,
    get: (key) => use((store) => store.get(key)),
    getMany: (keys) => use((store) => store.getMany(keys)),
    list: (options) => use((store) => store.list(options)),
    listMany: (ranges) => use((store) => listRanges(store, ranges)),
    commit: (ops) => use((store) => store.commit(ops)),
    close: () => close((store) => store.close()),
  };
}

/** A Queue forwarding to the one `opening` yields. */
export function deferQueue(name: string, queueName: string, opening: Promise<Queue>): Queue {
  const { use, close } = deferred(opening);
  return {
    name,
    queueName,
    enqueue: (item) => use((queue) => queue.enqueue(item)),
    enqueueMany: (items) => use((queue) => queue.enqueueMany(items)),
    claim: (options) => use((queue) => queue.claim(options)),
    ack: (lease) => use((queue) => queue.ack(lease)),
    retry: (lease, options) => use((queue) => queue.retry(lease, options)),
    ackMany: (leases) => use((queue) => queue.ackMany(leases)),
    retryMany: (leases, options) => use((queue) => queue.retryMany(leases, options)),
    extend: (lease, leaseMs) => use((queue) => queue.extend(lease, leaseMs)),
    remove: (id) => use((queue) => queue.remove(id)),
    get: (id) => use((queue) => queue.get(id)),
    nextAvailableAt: (partitionKey) => use((queue) => queue.nextAvailableAt(partitionKey)),
    counts: () => use((queue) => queue.counts()),
    // Every adapter the runtime loads has it; one without it releases nothing.
    releaseOwner: (owner) => use(async (queue) => (await queue.releaseOwner?.(owner)) ?? 0),
    close: () => close((queue) => queue.close()),
  };
}

/** A PubSub forwarding to the one `opening` yields. */
export function deferPubSub(name: string, opening: Promise<PubSub>): PubSub {
  const { use, close } = deferred(opening);
  return {
    name,
    publish: (channel, message) => use((pubsub) => pubsub.publish(channel, message)),
    subscribe: (channel, handler) => use((pubsub) => pubsub.subscribe(channel, handler)),
    close: () => close((pubsub) => pubsub.close()),
  };
}

/**
 * Gives a deferred queue the store pairing its engine's queue has (PostgreSQL's queue commits a
 * store's operations and its items in one transaction), so the flows engine, which asks once at
 * creation, saves those commits although the adapter is still loading. `pairsWith` answers for
 * the deferred store built beside it; should the loaded queue not pair after all, the store
 * commits and the items are enqueued after it, as for an engine without the pairing.
 */
export function withStorePairing(
  queue: Queue,
  store: Store,
  opening: Promise<{ readonly queue: Queue; readonly store: Store }>,
): StorePairedQueue {
  return {
    ...queue,
    pairsWith: (candidate) => candidate === store,
    async commitWithStore(ops, items, options) {
      const engine = await opening;
      const pairing = storePairing(engine.queue, engine.store);
      if (pairing) return pairing(ops, items, options);
      // Unpaired after all: commit, then enqueue; nothing comes back leased.
      const result = await engine.store.commit(ops);
      if (items.length > 0) await engine.queue.enqueueMany(items);
      const acked = options?.ack ? (await engine.queue.ackMany(options.ack)).applied : [];
      return { ...result, leases: [], acked };
    },
  };
}
