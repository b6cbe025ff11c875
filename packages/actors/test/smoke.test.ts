import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { expect, it } from "vitest";
import { z } from "zod";
import { createActorSystem, defineActor } from "../src/index.js";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

it("smoke", async () => {
  const clock = new ManualClock();
  const store = createMemoryStore();
  const system = createActorSystem({
    store,
    queue: createMemoryQueue({ clock }),
    clock,
    actors: [Counter],
  });
  const ref = system.get(Counter, "alice");
  const n: number = await ref.increment(2);
  expect(n).toBe(2);
  expect(await ref.get()).toBe(2);
  const all = await Promise.all(Array.from({ length: 1000 }, () => ref.increment(1)));
  expect(Math.max(...all)).toBe(1002);
  await system.close();
  const system2 = createActorSystem({
    store,
    queue: createMemoryQueue({ clock }),
    clock,
    actors: [Counter],
  });
  expect(await system2.get(Counter, "alice").get()).toBe(1002);
  await system2.close();
});
