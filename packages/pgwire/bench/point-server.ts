// A pgwire server with 10,000 saved Counter actors, for profiling point selects by hand:
// node --cpu-prof --import tsx --conditions=source bench/point-server.ts [port]
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { z } from "zod";
import { createPgServer } from "../src/index.js";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: { add: (ctx, by: number) => (ctx.state.count += by) },
});
const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Counter] });
for (let index = 0; index < 10_000; index++) await system.get(Counter, `c${index}`).add(index);
const server = createPgServer({ system, store });
console.log(`listening on ${await server.listen(Number(process.argv[2] ?? 5442))}`);
process.on("SIGINT", () => process.exit(0));
