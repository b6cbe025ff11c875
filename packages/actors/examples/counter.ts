import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { z } from "zod";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by; // saved (fenced) after the turn; the reply waits for the write
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Counter] });
const alice = system.get(Counter, "alice"); // activated on the first call
await Promise.all([alice.increment(1), alice.increment(2)]); // one turn at a time
console.log(await alice.get(), JSON.stringify(alice)); // 3 {"type":"Counter","key":"alice"}
await system.close(); // drains turns, saves, releases claims
