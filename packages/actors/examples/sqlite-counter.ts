import { createActorSystem, defineActor } from "@troupe/actors";
import { systemClock } from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { z } from "zod";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
  },
});

const path = process.env.ACTORS_DB ?? "actors.db"; // state, claims and reminders in one file
const store = createSqliteStore({ path });
const queue = createSqliteQueue({ path, queueName: "actors", clock: systemClock });
const system = createActorSystem({ store, queue, actors: [Counter] });
console.log(await system.get(Counter, "alice").increment(1)); // 1, then 2 on the next run, …
await system.close(); // the system does not close the Store or Queue it was given
await queue.close();
await store.close();
