// One-phase commit: when every participant of a transaction lives in the coordinator's process
// and on the decision records' Store, its steps stay in memory and the whole transaction is one
// guarded Store commit of the participants' states.
import { type ActorSystem, createActorSystem, directoryKey } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore, type Store, type StoreOp } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDecisionLog, createTransactions, type Transactions } from "../src/index.js";
import { Account } from "./bank.js";

/** The memory Store, with every commit's ops recorded. */
function recordingStore(): { store: Store; commits: StoreOp[][] } {
  const inner = createMemoryStore();
  const commits: StoreOp[][] = [];
  const store: Store = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === "commit") {
        return (ops: readonly StoreOp[]) => {
          commits.push([...ops]);
          return target.commit(ops);
        };
      }
      return Reflect.get(target, name, receiver);
    },
  });
  return { store, commits };
}

describe("one-phase commit (every participant in this process)", () => {
  let system: ActorSystem;
  let transactions: Transactions;
  let store: Store;
  let commits: StoreOp[][];
  beforeEach(() => {
    ({ store, commits } = recordingStore());
    const decisions = createDecisionLog({ store });
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      actors: [Account, decisions.actor],
    });
    transactions = createTransactions({ system, decisions, timeoutMs: 1_000 });
  });
  afterEach(async () => {
    transactions.close();
    await system.close();
  });
  const stored = async (key: number) =>
    (await system.inspectState("Account", key)).state as { value: { balance: number } };

  it("commits both participants' states in one guarded Store commit, with no decision record", async () => {
    const a = system.get(Account, 1);
    const b = system.get(Account, 2);
    await Promise.all([a.balance(), b.balance()]); // activate both (claims are commits of their own)
    commits.length = 0;
    await transactions.run(async (tx) => {
      await tx.call(a, "withdraw", "t1", 30);
      await tx.call(b, "deposit", "t1", 30);
    });
    expect(commits).toHaveLength(1);
    const ops = commits[0] ?? [];
    expect(ops.filter((op) => op.type === "check")).toHaveLength(2); // each activation's fence
    expect(
      ops
        .filter((op) => op.type === "set")
        .map((op) => op.key)
        .sort(),
    ).toEqual(["actors/state/Account/1", "actors/state/Account/2"]);
    expect(await store.list({ prefix: "tx/d/" })).toEqual([]);
    expect([await a.balance(), await b.balance()]).toEqual([970, 1030]);
    expect((await stored(1)).value.balance).toBe(970);
    expect((await stored(2)).value.balance).toBe(1030);
    // The adopted state is the saved one: an ordinary turn that changes nothing writes nothing.
    commits.length = 0;
    await system.invoke("Account", 1, "applied", []);
    expect(commits).toHaveLength(0);
  });

  it("holds the participants in memory until the commit: other writers wait or are refused", async () => {
    const a = system.get(Account, 3);
    const b = system.get(Account, 4);
    await transactions.run(async (tx) => {
      await tx.call(a, "withdraw", "t2", 10);
      await expect(system.invoke("Account", 3, "touch", [])).rejects.toMatchObject({
        code: "TX_LOCKED",
      });
      expect(await system.invoke("Account", 3, "txLock", [])).toBe(tx.id);
      expect(await a.balance()).toBe(1_000); // readers see the committed value
      await tx.call(b, "deposit", "t2", 10);
    });
    expect(await system.invoke("Account", 3, "txLock", [])).toBeNull();
    expect([await a.balance(), await b.balance()]).toEqual([990, 1010]);
  });

  it("aborts every participant when one activation's fence moved before the commit", async () => {
    const a = system.get(Account, 5);
    const b = system.get(Account, 6);
    await expect(
      transactions.run(async (tx) => {
        await tx.call(a, "withdraw", "t3", 40);
        await tx.call(b, "deposit", "t3", 40);
        // Another process takes b's claim over (its directory entry changes version).
        const claim = directoryKey("actors/dir/", { type: "Account", key: "6" });
        const entry = await store.get(claim);
        if (entry === undefined) throw new Error("b is not claimed");
        await store.commit([{ type: "set", key: claim, value: entry.value }]);
      }),
    ).rejects.toMatchObject({ code: "TX_ABORTED" });
    expect((await stored(5)).value.balance).toBe(1_000);
    expect((await stored(6)).value.balance).toBe(1_000);
    expect(await a.balance()).toBe(1_000);
    // a is free again: a later transaction on it commits.
    await transactions.run(async (tx) => {
      await tx.call(a, "withdraw", "t4", 1);
      await tx.call(system.get(Account, 7), "deposit", "t4", 1);
    });
    expect((await stored(5)).value.balance).toBe(999);
  });
});
