import { createDecisionLog, createTransactions, defineTxActor } from "@troupe/actor-tx";
import { createActorSystem } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { z } from "zod";

const Account = defineTxActor({
  name: "Account",
  key: "string",
  state: z.object({ balance: z.number().int() }),
  initialState: () => ({ balance: 100 }),
  actions: { balance: { readOnly: true, handler: (ctx) => ctx.state.balance } },
  transactional: {
    withdraw(ctx, amount: number) {
      if (ctx.state.balance < amount) throw new Error("insufficient funds"); // aborts everything
      ctx.state.balance -= amount;
    },
    deposit(ctx, amount: number) {
      ctx.state.balance += amount;
    },
  },
});

const store = createMemoryStore();
const decisions = createDecisionLog({ store }); // decision records in the same Store
const system = createActorSystem({
  store,
  queue: createMemoryQueue(),
  actors: [Account, decisions.actor],
});
const transactions = createTransactions({ system, decisions });
await transactions.run(async (tx) => {
  await tx.call(system.get(Account, "alice"), "withdraw", 30);
  await tx.call(system.get(Account, "bob"), "deposit", 30);
});
console.log(await system.get(Account, "bob").balance()); // 130
transactions.close();
await system.close();
