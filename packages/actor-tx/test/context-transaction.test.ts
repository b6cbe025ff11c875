import { type ActorSystem, createActorSystem, defineActor } from "@troupe/actors";
import {
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  type MemoryMetrics,
} from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createDecisionLog,
  createTransactions,
  defineTxActor,
  type Transactions,
} from "../src/index.js";
import { Account } from "./bank.js";

/** A plain actor that moves money between accounts in a transaction opened from its turn. */
const Broker = defineActor({
  name: "Broker",
  key: "string",
  state: z.object({ done: z.array(z.string()) }),
  initialState: () => ({ done: [] as string[] }),
  actions: {
    async transfer(ctx, id: string, from: number, to: number, amount: number) {
      const balances = await ctx.transaction(async (tx) => [
        await tx.call(ctx.get(Account, from), "withdraw", id, amount),
        await tx.call(ctx.get(Account, to), "deposit", id, amount),
      ]);
      ctx.state.done.push(id); // the broker's own change, after the commit, in the same turn
      return balances;
    },
    async failing(ctx, id: string, from: number) {
      await ctx.transaction(async (tx) => {
        await tx.call(ctx.get(Account, from), "withdraw", id, 1);
        throw new Error("changed my mind");
      });
    },
    done: { readOnly: true, handler: (ctx) => ctx.state.done },
  },
});

/** A transactional actor whose ordinary action tries to enlist itself. */
const Vault = defineTxActor({
  name: "Vault",
  key: "string",
  state: z.object({ gold: z.number().int() }),
  initialState: () => ({ gold: 0 }),
  actions: {
    async sweep(ctx, from: number) {
      await ctx.transaction(async (tx) => {
        await tx.call(ctx.get(Account, from), "withdraw", "sweep", 5);
        await tx.call(ctx.get(Vault, ctx.key), "store", 5);
      });
    },
    gold: { readOnly: true, handler: (ctx) => ctx.state.gold },
  },
  transactional: {
    store(ctx, amount: number) {
      ctx.state.gold += amount;
    },
  },
});

describe("ctx.transaction: a transaction opened from inside an actor turn", () => {
  let system: ActorSystem;
  let transactions: Transactions;
  let metrics: MemoryMetrics;
  beforeEach(() => {
    const store = createMemoryStore();
    metrics = createMemoryMetrics();
    const decisions = createDecisionLog({ store });
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      actors: [Account, Broker, Vault, decisions.actor],
    });
    transactions = createTransactions({ system, decisions, metrics, timeoutMs: 2_000 });
  });
  afterEach(async () => {
    transactions.close();
    await system.close();
  });

  it("commits across two other actors, then the caller's own change", async () => {
    const broker = system.get(Broker, "b");
    expect(await broker.transfer("t1", 1, 2, 30)).toEqual([970, 1030]);
    expect(await system.get(Account, 1).balance()).toBe(970);
    expect(await system.get(Account, 2).balance()).toBe(1030);
    expect(await broker.done()).toEqual(["t1"]);
    expect(metrics.value("actors_tx_committed_total")).toBe(1);
  });

  it("a body that throws aborts: nothing applied, the handler sees the error", async () => {
    await expect(system.get(Broker, "b").failing("t2", 3)).rejects.toThrow("changed my mind");
    expect(await system.get(Account, 3).balance()).toBe(1000);
    expect(await system.get(Account, 3).applied()).toEqual([]);
    expect(metrics.value("actors_tx_aborted_total")).toBe(1);
  });

  it("enlisting the calling actor fails at once with TX_REENTRANT (not a timeout); nothing applied", async () => {
    await expect(system.get(Vault, "v").sweep(4)).rejects.toMatchObject({
      code: "TX_REENTRANT",
      message: expect.stringContaining("Vault/v opened it with ctx.transaction"),
    });
    expect(await system.get(Account, 4).balance()).toBe(1000);
    expect(await system.get(Vault, "v").gold()).toBe(0);
    expect(metrics.value("actors_tx_aborted_total")).toBe(1);
    // The account is not left locked by the aborted transaction.
    expect(await system.get(Broker, "b").transfer("t3", 4, 5, 1)).toEqual([999, 1001]);
  });

  it("without createTransactions for the system, ctx.transaction names what is missing", async () => {
    const other = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      actors: [Account, Broker],
    });
    try {
      await expect(other.get(Broker, "b").transfer("t4", 1, 2, 1)).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining("ctx.transaction: this actor system has no such method"),
      });
    } finally {
      await other.close();
    }
  });
});
