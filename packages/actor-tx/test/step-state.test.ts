// A step's handler works on a copy of the state: what it reads, changes in place or assigns to
// `ctx.state` becomes the prepared state, and the committed value stays what readers see until
// the transaction commits.
import { type ActorSystem, createActorSystem } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createDecisionLog,
  createTransactions,
  defineTxActor,
  type Transactions,
} from "../src/index.js";

const Tally = defineTxActor({
  name: "Tally",
  key: "integer",
  state: z.object({ items: z.array(z.string()), total: z.number() }),
  initialState: () => ({ items: [], total: 0 }),
  actions: { read: { readOnly: true, handler: (ctx) => ctx.state } },
  transactional: {
    // Replaces the state object wholesale.
    replace(ctx, item: string) {
      ctx.state = { items: [item], total: 1 };
      return ctx.state.total;
    },
    // Changes the state in place.
    push(ctx, item: string) {
      ctx.state.items.push(item);
      ctx.state.total += 1;
      return ctx.state.total;
    },
  },
});

describe("a step's state", () => {
  let system: ActorSystem;
  let transactions: Transactions;
  beforeEach(() => {
    const store = createMemoryStore();
    const decisions = createDecisionLog({ store });
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      actors: [Tally, decisions.actor],
    });
    transactions = createTransactions({ system, decisions, timeoutMs: 1_000 });
  });
  afterEach(async () => {
    transactions.close();
    await system.close();
  });

  it("keeps an assigned state and the steps after it build on it; readers see it only once committed", async () => {
    const a = system.get(Tally, 1);
    const b = system.get(Tally, 2);
    await a.push("old"); // outside a transaction: an ordinary write
    let seenInside: unknown;
    const results = await transactions.run(async (tx) => {
      const first = await tx.call(a, "replace", "x");
      const second = await tx.call(a, "push", "y");
      const third = await tx.call(b, "push", "z");
      seenInside = await a.read();
      return [first, second, third];
    });
    expect(results).toEqual([1, 2, 1]);
    expect(seenInside).toEqual({ items: ["old"], total: 1 });
    expect(await a.read()).toEqual({ items: ["x", "y"], total: 2 });
    expect(await b.read()).toEqual({ items: ["z"], total: 1 });
  });

  it("leaves the committed state untouched when the transaction aborts after a step changed it in place", async () => {
    const a = system.get(Tally, 3);
    await a.push("kept");
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "push", "dropped");
        throw new Error("body gives up");
      }),
    ).rejects.toThrow("body gives up");
    expect(await a.read()).toEqual({ items: ["kept"], total: 1 });
  });

  it("rejects a step whose key does not fit the type (INVALID_ARGUMENT), even after the same key as a number was used, and applies nothing", async () => {
    const a = system.get(Tally, 5);
    await transactions.run(async (tx) => {
      await tx.call({ type: "Tally", key: 5 }, "push", "first");
    });
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "push", "second");
        await tx.call({ type: "Tally", key: "5" }, "push", "third");
      }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await a.read()).toEqual({ items: ["first"], total: 1 });
  });
});
