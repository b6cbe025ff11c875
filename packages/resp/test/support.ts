import { createActorSystem, defineActor } from "@troupe/actors";
import {
  type Clock,
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  type PubSub,
  type Queue,
  type Store,
} from "@troupe/core";
import { z } from "zod";
import { createRespServer, defineRespKeyActor, type RespServerOptions } from "../src/index.js";

/** The key actor the tests use: saved 1 ms after a write, so SCAN sees keys at once. */
export const TestKey = defineRespKeyActor({ saveDelayMs: 1 });

/** A plain actor for ACTOR.CALL. */
export const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: {
    add: { args: z.tuple([z.number()]), handler: (ctx, by: number) => (ctx.state.count += by) },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

/** What {@link startServer} takes. */
export interface StartOptions extends Partial<Omit<RespServerOptions, "system" | "store">> {
  readonly store?: Store;
  readonly queue?: Queue;
  readonly pubsubPort?: PubSub;
  readonly clock?: Clock;
}

/** A RESP server on memory ports (or the given ones), listening on a free port. */
export async function startServer(options: StartOptions = {}) {
  const store = options.store ?? createMemoryStore();
  const queue = options.queue ?? createMemoryQueue();
  const system = createActorSystem({
    store,
    queue,
    actors: [TestKey, Counter],
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const server = createRespServer({
    pubsub: options.pubsubPort ?? createMemoryPubSub(),
    ...options,
    system,
    store,
    keyActor: TestKey,
  });
  const port = await server.listen(0);
  return {
    port,
    server,
    system,
    store,
    async close() {
      await server.close();
      await system.close();
    },
  };
}

/** Waits until the key actors' write-behind saves are done (1 ms windows). */
export function settleSaves(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 30));
}
