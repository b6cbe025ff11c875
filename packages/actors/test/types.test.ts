import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { type ActorRef, createActorSystem, defineActor } from "../src/index.js";

const Account = defineActor({
  name: "Account",
  key: "integer",
  state: z.object({ balance: z.number(), owner: z.string() }),
  initialState: (id) => ({ balance: 0, owner: `#${id}` }),
  actions: {
    deposit(ctx, amount: number, note?: string) {
      expectTypeOf(ctx.state.balance).toEqualTypeOf<number>();
      expectTypeOf(ctx.key).toEqualTypeOf<number>();
      ctx.state.balance += amount;
      return { balance: ctx.state.balance, note };
    },
    owner: { readOnly: true, handler: async (ctx) => ctx.state.owner },
    async transfer(ctx, to: number, amount: number) {
      ctx.state.balance -= amount;
      const target = ctx.get(Ledger);
      await target.record(ctx.key, to, amount);
      return true;
    },
  },
});

const Ledger = defineActor({
  name: "Ledger",
  key: "none",
  state: z.object({ entries: z.array(z.tuple([z.number(), z.number(), z.number()])) }),
  initialState: () => ({ entries: [] }),
  actions: {
    record(ctx, from: number, to: number, amount: number) {
      ctx.state.entries.push([from, to, amount]);
    },
  },
});

describe("typed references", () => {
  it("type actions from their handlers", async () => {
    const system = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      actors: [Account, Ledger],
    });
    const account = system.get(Account, 7);
    expectTypeOf(account).toEqualTypeOf<ActorRef<typeof Account>>();
    expectTypeOf(account.deposit).parameters.toEqualTypeOf<[amount: number, note?: string]>();
    expectTypeOf(account.deposit).returns.toEqualTypeOf<
      Promise<{ balance: number; note: string | undefined }>
    >();
    expectTypeOf(account.owner).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf(account.send.transfer).parameters.toEqualTypeOf<[to: number, amount: number]>();
    expectTypeOf(account.send.transfer).returns.toEqualTypeOf<void>();
    expectTypeOf(account.key).toEqualTypeOf<number>();
    // @ts-expect-error: Account is keyed by an integer
    expect(() => system.get(Account, "7")).toThrow();
    // @ts-expect-error: Ledger has no key
    expect(() => system.get(Ledger, 1)).toThrow();
    // @ts-expect-error: deposit takes a number
    await account.deposit("ten").catch(() => undefined);
    expectTypeOf(await account.transfer(8, 5)).toEqualTypeOf<boolean>();
    await system.close();
  });
});
