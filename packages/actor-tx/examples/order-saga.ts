import { defineSaga, startSaga, waitForSaga } from "@troupe/actor-tx";
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows, NonRetriableError } from "@troupe/flows";
import { z } from "zod";

// Each change is recorded under the caller's idempotency key, so a repeated call changes nothing.
const Stock = defineActor({
  name: "Stock",
  key: "string",
  state: z.object({ free: z.number().int(), held: z.record(z.string(), z.number().int()) }),
  initialState: () => ({ free: 10, held: {} }),
  actions: {
    hold(ctx, idempotencyKey: string, qty: number) {
      if (idempotencyKey in ctx.state.held) return; // ran before: already applied
      if (ctx.state.free < qty) throw new NonRetriableError("out of stock");
      ctx.state.free -= qty;
      ctx.state.held[idempotencyKey] = qty;
    },
    release(ctx, idempotencyKey: string) {
      ctx.state.free += ctx.state.held[idempotencyKey] ?? 0;
      ctx.state.held[idempotencyKey] = 0; // kept, so a late repeat of `hold` stays a no-op
    },
    free: { readOnly: true, handler: (ctx) => ctx.state.free },
  },
});

const Wallet = defineActor({
  name: "Wallet",
  key: "string",
  state: z.object({ balance: z.number().int(), paid: z.array(z.string()) }),
  initialState: () => ({ balance: 50, paid: [] }),
  actions: {
    pay(ctx, idempotencyKey: string, amount: number) {
      if (ctx.state.paid.includes(idempotencyKey)) return;
      if (ctx.state.balance < amount) throw new NonRetriableError("insufficient funds");
      ctx.state.balance -= amount;
      ctx.state.paid.push(idempotencyKey);
    },
  },
});

const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Stock, Wallet] });

type Order = { sku: string; qty: number; customer: string; price: number };
const placeOrder = defineSaga<Order>("place-order", {
  steps: [
    {
      name: "hold-stock",
      run: ({ input, idempotencyKey }) =>
        system.get(Stock, input.sku).hold(idempotencyKey, input.qty),
      compensate: ({ input, idempotencyKey }) =>
        system.get(Stock, input.sku).release(idempotencyKey),
    },
    {
      name: "pay",
      run: ({ input, idempotencyKey }) =>
        system.get(Wallet, input.customer).pay(idempotencyKey, input.qty * input.price),
    },
  ],
});

const flows = createFlows({ store, queue: createMemoryQueue(), functions: [placeOrder] });
await flows.start();
for (const qty of [1, 4]) {
  const { runId } = await startSaga(flows, placeOrder, {
    sku: "lamp",
    qty,
    customer: "ada",
    price: 20,
  });
  const outcome = await waitForSaga(flows, runId);
  console.log(outcome.status, await system.get(Stock, "lamp").free());
}
// completed 9, then compensated 9: 4 × 20 is more than ada's 30, so the lamps are released
await flows.stop();
await system.close();
