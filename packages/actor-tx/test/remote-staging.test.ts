// A participant on another node whose Store reaches the same data as the decision records keeps
// its prepared step in memory and sends its state write back with the prepare's answer: the
// coordinator commits it with the decision record, and the participant adopts it in phase 2 (or
// asks the record at its deadline). The nodes share one memory Store's data through separate
// handles, as processes would.
import type { ActorSystem } from "@troupe/actors";
import { createMemoryStore, type Store, type StoreOp } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDecisionLog, createTransactions, type Transactions } from "../src/index.js";
import { Account } from "./bank.js";
import { handle, openTwoNodes, storedAccount } from "./two-nodes.js";

async function until(condition: () => Promise<boolean>) {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe("a participant on another node, on the same data, staged in memory", () => {
  let systems: ActorSystem[];
  let closeNodes: () => Promise<void>;
  let transactions: Transactions;
  let data: Store;
  let commits: [StoreOp[][], StoreOp[][]];
  let crashAfterDecision = false;
  beforeEach(async () => {
    data = createMemoryStore();
    commits = [[], []];
    crashAfterDecision = false;
    const stores = [handle(data, commits[0]), handle(data, commits[1])];
    ({ systems, close: closeNodes } = await openTwoNodes(stores));
    const [system] = systems as [ActorSystem];
    transactions = createTransactions({
      system,
      decisions: createDecisionLog({ store: stores[0] as Store }),
      timeoutMs: 300,
      faults: {
        afterDecision: () => {
          if (crashAfterDecision) throw new Error("coordinator died after the decision");
        },
      },
    });
    // The first transaction with a participant elsewhere prepares it durably and has the
    // coordinator look up the id of its Store's data; later ones send it with their prepares.
    await transactions.run(async (tx) => {
      await tx.call(system.get(Account, 0), "withdraw", "warm", 1);
      await tx.call(system.get(Account, 1), "deposit", "warm", 1);
    });
    await until(async () => (await data.get("troupe/tx/home")) !== undefined);
  });
  afterEach(async () => {
    transactions.close();
    await closeNodes();
  });
  const system0 = () => systems[0] as ActorSystem;
  const stored = (key: number) => storedAccount(data, key);

  it("commits both states with the decision record: the remote node writes nothing", async () => {
    const local = system0().get(Account, 2);
    const remote = system0().get(Account, 3);
    await Promise.all([local.balance(), remote.balance()]);
    commits[0].length = 0;
    commits[1].length = 0;
    await transactions.run(async (tx) => {
      await tx.call(local, "withdraw", "r1", 30);
      await tx.call(remote, "deposit", "r1", 30);
    });
    const decision = commits[0].find((ops) => ops.some((op) => op.key.startsWith("tx/d/")));
    expect(decision?.map((op) => `${op.type} ${op.key}`).sort()).toEqual([
      "check actors/d/Account/2",
      "check actors/d/Account/3",
      "set actors/state/Account/2",
      "set actors/state/Account/3",
      `set tx/d/${decision?.find((op) => op.key.startsWith("tx/d/"))?.key.slice(5)}`,
    ]);
    expect(commits[1]).toEqual([]); // no stored prepare, no phase 2 write on node 1
    expect([await local.balance(), await remote.balance()]).toEqual([970, 1030]);
    expect((await stored(3))?.value.balance).toBe(1030);
    expect((await stored(3))?.lock ?? null).toBeNull();
    expect(await system0().invoke("Account", 3, "txLock", [])).toBeNull();
    // Its activation took the committed state as its own: the next transfer builds on it.
    await transactions.run(async (tx) => {
      await tx.call(remote, "withdraw", "r2", 5);
    });
    expect((await stored(3))?.value.balance).toBe(1025);
    expect(await system0().invoke("Account", 3, "applied", [])).toEqual(["+r1", "-r2"]);
  });

  it("the coordinator died after the decision: the remote participant adopts from the record", async () => {
    const local = system0().get(Account, 4);
    const remote = system0().get(Account, 5);
    crashAfterDecision = true;
    await expect(
      transactions.run(async (tx) => {
        await tx.call(local, "withdraw", "r3", 30);
        await tx.call(remote, "deposit", "r3", 30);
      }),
    ).rejects.toThrow("coordinator died");
    expect((await stored(5))?.value.balance).toBe(1030);
    // No phase 2 came: at its deadline the remote participant asks the decision record.
    await until(async () => (await system0().invoke("Account", 5, "txLock", [])) === null);
    expect(await remote.balance()).toBe(1030);
    expect(await system0().invoke("Account", 5, "applied", [])).toEqual(["+r3"]);
  });

  it("a body that fails after the remote step: the remote participant is released unchanged", async () => {
    const remote = system0().get(Account, 7);
    await remote.balance();
    commits[0].length = 0;
    commits[1].length = 0;
    await expect(
      transactions.run(async (tx) => {
        await tx.call(remote, "deposit", "r4", 30);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await system0().invoke("Account", 7, "txLock", [])).toBeNull();
    expect(await remote.balance()).toBe(1_000);
    expect([...commits[0], ...commits[1]]).toEqual([]);
  });
});
