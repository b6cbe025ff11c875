import type { ActorSystem } from "@troupe/actors";
import { defineActor } from "@troupe/actors";
import type { Metrics } from "@troupe/core";
import { NonRetriableError } from "@troupe/flows";
import { z } from "zod";
import { defineSaga } from "../src/index.js";

/**
 * A stock actor that applies each reservation once per idempotency key: `reserve` records the
 * key, so an attempt that ran before (a retry, or a step re-run after a crash) returns the first
 * result; `release` marks the key released, so releasing twice, or a late `reserve` after the
 * release, changes nothing.
 */
export const Stock = defineActor({
  name: "Stock",
  key: "string",
  state: z.object({
    available: z.number().int(),
    reservations: z.record(z.string(), z.object({ qty: z.number().int(), released: z.boolean() })),
    applied: z.number().int(),
  }),
  initialState: () => ({ available: 10, reservations: {}, applied: 0 }),
  actions: {
    reserve(ctx, idempotencyKey: string, qty: number) {
      const seen = ctx.state.reservations[idempotencyKey];
      if (seen) return { reserved: seen.released ? 0 : seen.qty, repeated: true };
      if (ctx.state.available < qty) throw new NonRetriableError("out of stock");
      ctx.state.available -= qty;
      ctx.state.reservations[idempotencyKey] = { qty, released: false };
      ctx.state.applied += 1;
      return { reserved: qty, repeated: false };
    },
    release(ctx, idempotencyKey: string) {
      const seen = ctx.state.reservations[idempotencyKey];
      if (!seen || seen.released) return false;
      ctx.state.available += seen.qty;
      seen.released = true;
      return true;
    },
    view: { readOnly: true, handler: (ctx) => ctx.state },
  },
});

/** A wallet that charges and refunds once per idempotency key, like {@link Stock}. */
export const Wallet = defineActor({
  name: "Wallet",
  key: "string",
  state: z.object({
    balance: z.number().int(),
    charges: z.record(z.string(), z.object({ amount: z.number().int(), refunded: z.boolean() })),
    applied: z.number().int(),
  }),
  initialState: () => ({ balance: 100, charges: {}, applied: 0 }),
  actions: {
    charge(ctx, idempotencyKey: string, amount: number) {
      if (ctx.state.charges[idempotencyKey]) return ctx.state.balance;
      if (ctx.state.balance < amount) throw new NonRetriableError("insufficient funds");
      ctx.state.balance -= amount;
      ctx.state.charges[idempotencyKey] = { amount, refunded: false };
      ctx.state.applied += 1;
      return ctx.state.balance;
    },
    refund(ctx, idempotencyKey: string) {
      const seen = ctx.state.charges[idempotencyKey];
      if (!seen || seen.refunded) return false;
      ctx.state.balance += seen.amount;
      seen.refunded = true;
      return true;
    },
    view: { readOnly: true, handler: (ctx) => ctx.state },
  },
});

/** A shipping desk that books each shipment once per idempotency key. */
export const Shipping = defineActor({
  name: "Shipping",
  key: "string",
  state: z.object({ booked: z.array(z.string()), applied: z.number().int() }),
  initialState: () => ({ booked: [], applied: 0 }),
  actions: {
    book(ctx, idempotencyKey: string, orderId: string) {
      if (ctx.state.booked.includes(idempotencyKey)) return `parcel-${orderId}`;
      ctx.state.booked.push(idempotencyKey);
      ctx.state.applied += 1;
      return `parcel-${orderId}`;
    },
    view: { readOnly: true, handler: (ctx) => ctx.state },
  },
});

export const orderInput = z.object({
  orderId: z.string().min(1),
  sku: z.string().min(1),
  qty: z.number().int().positive(),
  customer: z.string().min(1),
  price: z.number().int().positive(),
});
export type OrderInput = z.infer<typeof orderInput>;

/** Hooks a test puts between a step's actor call and its return (to crash there). */
export interface ShopHooks {
  afterCall?(step: string): Promise<void> | void;
}

/** The order saga: reserve stock, charge the wallet, book shipping. */
export function orderSaga(system: () => ActorSystem, hooks: ShopHooks = {}, metrics?: Metrics) {
  return defineSaga("place-order", {
    input: orderInput,
    retries: 1,
    backoff: { baseMs: 0 },
    ...(metrics === undefined ? {} : { metrics }),
    steps: [
      {
        name: "reserve",
        run: async ({ input, idempotencyKey }) => {
          const result = await system().get(Stock, input.sku).reserve(idempotencyKey, input.qty);
          await hooks.afterCall?.("reserve");
          return result;
        },
        compensate: async ({ input, idempotencyKey }) => {
          const released = await system().get(Stock, input.sku).release(idempotencyKey);
          await hooks.afterCall?.("undo-reserve");
          return released;
        },
      },
      {
        name: "charge",
        run: async ({ input, idempotencyKey }) => {
          const balance = await system()
            .get(Wallet, input.customer)
            .charge(idempotencyKey, input.price * input.qty);
          await hooks.afterCall?.("charge");
          return balance;
        },
        compensate: ({ input, idempotencyKey }) =>
          system().get(Wallet, input.customer).refund(idempotencyKey),
      },
      {
        name: "ship",
        run: async ({ input, idempotencyKey }) => {
          const parcel = await system().get(Shipping, "desk").book(idempotencyKey, input.orderId);
          await hooks.afterCall?.("ship");
          return parcel;
        },
      },
    ],
  });
}
