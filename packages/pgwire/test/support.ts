import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore, utf8 } from "@troupe/core";
import { createFlows, createFunction } from "@troupe/flows";
import { z } from "zod";
import { createPgServer, type PgServerOptions } from "../src/index.js";

export const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: {
    add: { args: z.tuple([z.number()]), handler: (ctx, by: number) => (ctx.state.count += by) },
  },
});

let release: (() => void) | undefined;

/** An actor whose `wait` action does not finish until {@link releaseSlow} (to test cancelling). */
export const Slow = defineActor({
  name: "Slow",
  key: "string",
  state: z.object({}),
  initialState: () => ({}),
  actions: {
    wait: {
      interleave: true,
      handler: () =>
        new Promise<string>((resolve) => {
          release = () => resolve("released");
        }),
    },
  },
});

export function releaseSlow(): void {
  release?.();
}

const welcome = createFunction(
  { id: "welcome", triggers: [{ event: "user/created" }] },
  async ({ event, step }) => step.run("greet", () => `Hello, ${String(event.data.name)}!`),
);

/** A server over memory ports: 100 counters (c0…c99 holding 0…99), a flow, a stats snapshot. */
export async function startPgServer(options: Partial<PgServerOptions> = {}) {
  const store = createMemoryStore();
  const queue = createMemoryQueue();
  const system = createActorSystem({ store, queue, actors: [Counter, Slow] });
  const flows = createFlows({ store, queue, pubsub: createMemoryPubSub(), functions: [welcome] });
  for (let index = 0; index < 100; index++) {
    await system.get(Counter, `c${index}`).add(index);
  }
  await store.commit([
    {
      type: "set",
      key: "stats/snapshot/hero-1",
      value: utf8(
        JSON.stringify({
          format: 1,
          fingerprint: "f1",
          snapshot: { version: 7, outputs: { hp: 10 } },
        }),
      ),
    },
  ]);
  const server = createPgServer({
    flows,
    system,
    store,
    functions: () => [
      {
        id: "welcome",
        name: "welcome",
        source: "in-process",
        triggers: [{ event: "user/created" }],
      },
    ],
    ...options,
  });
  const port = await server.listen(0);
  return {
    port,
    server,
    flows,
    system,
    async close() {
      releaseSlow();
      await server.close();
      await flows.close();
      await system.close();
    },
  };
}
