import { type ActorSystem, createActorSystem, defineActor } from "@troupe/actors";
import {
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  type MemoryMetrics,
  TroupeError,
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

const Plain = defineActor({
  name: "Plain",
  key: "string",
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  actions: { bump: (ctx) => ++ctx.state.n },
});

describe("transactions across actors (one node, memory Store)", () => {
  let system: ActorSystem;
  let transactions: Transactions;
  let metrics: MemoryMetrics;
  const store = createMemoryStore();
  beforeEach(() => {
    metrics = createMemoryMetrics();
    const decisions = createDecisionLog({ store });
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      actors: [Account, decisions.actor, Plain],
    });
    transactions = createTransactions({ system, decisions, metrics, timeoutMs: 300 });
  });
  afterEach(async () => {
    transactions.close();
    await system.close();
  });
  let next = 0;
  const fresh = () =>
    [system.get(Account, ++next * 10), system.get(Account, next * 10 + 1)] as const;
  const balances = (a: { balance(): Promise<number> }, b: { balance(): Promise<number> }) =>
    Promise.all([a.balance(), b.balance()]);
  const unlocked = async (...keys: number[]) =>
    Promise.all(keys.map((key) => system.invoke("Account", key, "txLock", [])));

  it("commits every participant's change and returns the body's result", async () => {
    const [a, b] = fresh();
    const result = await transactions.run(async (tx) => {
      const left = await tx.call(a, "withdraw", "x1", 30);
      const right = await tx.call(b, "deposit", "x1", 30);
      return [left, right];
    });
    expect(result).toEqual([970, 1030]);
    expect(await balances(a, b)).toEqual([970, 1030]);
    expect(await unlocked(a.key, b.key)).toEqual([null, null]);
    expect(metrics.value("actors_tx_started_total")).toBe(1);
    expect(metrics.value("actors_tx_committed_total")).toBe(1);
  });

  it("applies nothing when the body throws after a step, and counts the abort", async () => {
    const [a, b] = fresh();
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "withdraw", "x2", 30);
        await tx.call(b, "deposit", "x2", 30);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await balances(a, b)).toEqual([1000, 1000]);
    expect(await unlocked(a.key, b.key)).toEqual([null, null]);
    expect(metrics.value("actors_tx_aborted_total")).toBe(1);
  });

  it("applies nothing when a step fails (insufficient funds on the second participant)", async () => {
    const [a, b] = fresh();
    await expect(
      transactions.run(async (tx) => {
        await tx.call(b, "deposit", "x3", 5_000);
        await tx.call(a, "withdraw", "x3", 5_000);
      }),
    ).rejects.toMatchObject({ code: "INSUFFICIENT_FUNDS" });
    expect(await balances(a, b)).toEqual([1000, 1000]);
  });

  it("refuses an unknown participant and a non-transactional action by name, applying nothing", async () => {
    const [a] = fresh();
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "withdraw", "x4", 10);
        await tx.call({ type: "Nope", key: "k" }, "withdraw", "x4", 10);
      }),
    ).rejects.toMatchObject({ code: "TX_UNKNOWN_PARTICIPANT" });
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "withdraw", "x5", 10);
        await tx.call(a, "touch");
      }),
    ).rejects.toMatchObject({
      code: "TX_NOT_TRANSACTIONAL",
      message: /Account.touch is not a transactional action/,
    });
    await expect(
      transactions.run(async (tx) => {
        await tx.call(system.get(Plain, "p"), "bump");
      }),
    ).rejects.toMatchObject({
      code: "TX_NOT_TRANSACTIONAL",
      message: /Plain is not a transactional actor/,
    });
    expect(await a.balance()).toBe(1000);
    expect(await system.get(Plain, "p").bump()).toBe(1);
    expect(await unlocked(a.key)).toEqual([null]);
  });

  it("locks a prepared participant: writes fail with TX_LOCKED, reads see the committed value", async () => {
    const [a, b] = fresh();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = transactions.run(async (tx) => {
      await tx.call(a, "withdraw", "x6", 100);
      await gate;
      await tx.call(b, "deposit", "x6", 100);
    });
    await expect.poll(() => system.invoke("Account", a.key, "txLock", [])).not.toBeNull();
    expect(await a.balance()).toBe(1000);
    const error = await a.touch().catch((e: unknown) => e);
    expect(TroupeError.isInstance(error, "TX_LOCKED")).toBe(true);
    await expect(a.withdraw("direct", 1)).rejects.toMatchObject({ code: "TX_LOCKED" });
    release();
    await running;
    expect(await balances(a, b)).toEqual([900, 1100]);
    expect(await a.withdraw("direct", 1)).toBe(899); // outside a transaction: an ordinary turn
  });

  it("aborts at the deadline: a body that outlives it commits nothing and frees its participants", async () => {
    const [a, b] = fresh();
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "withdraw", "x7", 10);
        await new Promise((resolve) => setTimeout(resolve, 400));
        await tx.call(b, "deposit", "x7", 10);
      }),
    ).rejects.toMatchObject({ code: "TX_TIMEOUT" });
    expect(await balances(a, b)).toEqual([1000, 1000]);
    expect(await unlocked(a.key, b.key)).toEqual([null, null]);
  });

  it("makes a second transaction wait for the first (serializable per participant)", async () => {
    const [a, b] = fresh();
    const runs = Array.from({ length: 20 }, (_, i) =>
      transactions.run(
        async (tx) => {
          await tx.call(a, "withdraw", `s${i}`, 10);
          await tx.call(b, "deposit", `s${i}`, 10);
        },
        { conflictRetries: 100 },
      ),
    );
    await Promise.all(runs);
    expect(await balances(a, b)).toEqual([800, 1200]);
    expect(metrics.value("actors_tx_committed_total")).toBe(20);
  });

  it("settles steps still in flight before it aborts, so none is left prepared (steps in parallel)", async () => {
    const [a, b] = fresh();
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let go!: () => void;
    const started = new Promise<void>((resolve) => {
      go = resolve;
    });
    // The older transaction waits until a younger one holds b, then sends two steps at once: the
    // step on a fails at once, the one on b waits for the younger holder (wait-die: older waits).
    const older = transactions.run(
      async (tx) => {
        await started;
        await Promise.all([
          tx.call(a, "withdraw", "p1", 1_000_000),
          tx.call(b, "deposit", "p1", 5),
        ]);
      },
      { timeoutMs: 5_000 },
    );
    const younger = transactions.run(
      async (tx) => {
        await tx.call(b, "deposit", "p2", 7);
        holding();
        await released;
      },
      { timeoutMs: 5_000 },
    );
    await held;
    go();
    await expect(older).rejects.toMatchObject({ code: "INSUFFICIENT_FUNDS" });
    release();
    await younger;
    expect(await balances(a, b)).toEqual([1000, 1007]);
    expect(await unlocked(a.key, b.key)).toEqual([null, null]);
  });

  it("refuses definitions that reuse a reserved or an ordinary action name", () => {
    const base = {
      name: "Bad",
      key: "string" as const,
      state: z.object({}),
      initialState: () => ({}),
    };
    expect(() =>
      defineTxActor({ ...base, actions: { txCommit: () => 1 }, transactional: {} }),
    ).toThrow(/reserved for transactions/);
    expect(() =>
      defineTxActor({ ...base, actions: { a: () => 1 }, transactional: { a: () => 2 } }),
    ).toThrow(/transactional.a: is also an ordinary action/);
  });
});
