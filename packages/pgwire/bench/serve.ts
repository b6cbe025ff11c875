import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { z } from "zod";
import { createPgServer } from "../src/index.js";

// A PostgreSQL-protocol server on the memory ports with a Counter actor, for trying clients by
// hand: npx tsx --conditions=source bench/serve.ts [port] [token]
const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: {
    add: { args: z.tuple([z.number()]), handler: (ctx, by: number) => (ctx.state.count += by) },
  },
});
const store = createMemoryStore();
const queue = createMemoryQueue();
const system = createActorSystem({ store, queue, actors: [Counter] });
const flows = createFlows({ store, queue, pubsub: createMemoryPubSub() });
for (let index = 0; index < 100; index++) await system.get(Counter, `c${index}`).add(index);
const token = process.argv[3];
const server = createPgServer({ flows, system, store, ...(token ? { token } : {}) });
console.log(`listening on ${await server.listen(Number(process.argv[2] ?? 5439))}`);
process.on("SIGINT", () => process.exit(0));
