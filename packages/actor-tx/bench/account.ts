import { z } from "zod";
import { defineTxActor } from "../src/index.js";

/** The benches' account: no log of applied transfers, so a state write stays the same size. */
export const Account = defineTxActor({
  name: "Account",
  key: "integer",
  state: z.object({ balance: z.number().int() }),
  initialState: () => ({ balance: 1_000_000 }),
  actions: { balance: { readOnly: true, handler: (ctx) => ctx.state.balance } },
  transactional: {
    withdraw(ctx, _id: string, amount: number) {
      ctx.state.balance -= amount;
    },
    deposit(ctx, _id: string, amount: number) {
      ctx.state.balance += amount;
    },
  },
});
