import { z } from "zod";
import { defineActor } from "../../src/index.js";

/** The actor the cross-process tests and the cluster benchmark call: a counter per key. */
export const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    // Never answers: a call that is still running when its node is killed.
    hang: (): Promise<number> => new Promise(() => {}),
  },
});
