// A transaction with one participant in the coordinator's process and one on another node: the
// local participant's step stays in memory and its committed state is written by the same Store
// commit as the decision record; only the remote participant is prepared durably and hears
// phase 2. The nodes share one memory Store's data through separate handles, as processes would.
import type { ActorSystem } from "@troupe/actors";
import { createMemoryStore, type Store, type StoreOp } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDecisionLog, createTransactions, type Transactions } from "../src/index.js";
import { Account } from "./bank.js";
import { handle, openTwoNodes, storedAccount } from "./two-nodes.js";

describe("two-phase commit with a participant in the coordinator's process", () => {
  let systems: ActorSystem[];
  let closeNodes: () => Promise<void>;
  let transactions: Transactions;
  let data: Store;
  let commits: StoreOp[][];
  beforeEach(async () => {
    data = createMemoryStore();
    commits = [];
    const stores = [handle(data, commits), handle(data)];
    ({ systems, close: closeNodes } = await openTwoNodes(stores));
    const [system] = systems as [ActorSystem];
    transactions = createTransactions({
      system,
      decisions: createDecisionLog({ store: stores[0] as Store }),
      timeoutMs: 2_000,
    });
  });
  afterEach(async () => {
    transactions.close();
    await closeNodes();
  });
  const system0 = () => systems[0] as ActorSystem;
  const stored = (key: number) => storedAccount(data, key);

  it("writes the local participant's state with the decision record; the remote one prepares", async () => {
    const local = system0().get(Account, 2);
    const remote = system0().get(Account, 3);
    await Promise.all([local.balance(), remote.balance()]);
    expect(systems[1]?.isActive({ type: "Account", key: "3" })).toBe(true);
    commits.length = 0;
    await transactions.run(async (tx) => {
      await tx.call(local, "withdraw", "m1", 30);
      await tx.call(remote, "deposit", "m1", 30);
    });
    const decision = commits.find((ops) => ops.some((op) => op.key.startsWith("tx/d/")));
    expect(decision?.map((op) => `${op.type} ${op.key}`).sort()).toEqual([
      "check actors/d/Account/2",
      "set actors/state/Account/2",
      `set tx/d/${decision?.find((op) => op.key.startsWith("tx/d/"))?.key.slice(5)}`,
    ]);
    // Node 0 wrote nothing else for account 2: no stored prepare, no phase 2 write.
    const writesOf2 = commits.filter((ops) =>
      ops.some((op) => op.key === "actors/state/Account/2"),
    );
    expect(writesOf2).toHaveLength(1);
    expect([await local.balance(), await remote.balance()]).toEqual([970, 1030]);
    expect((await stored(2))?.value.balance).toBe(970);
    expect((await stored(3))?.value.balance).toBe(1030);
    expect((await stored(3))?.lock ?? null).toBeNull();
    await expect(transactions.resolveNow()).resolves.toBe(0);
  });

  it("aborts both when the local participant's fence moved: nothing applied anywhere", async () => {
    const local = system0().get(Account, 4);
    const remote = system0().get(Account, 5);
    await expect(
      transactions.run(async (tx) => {
        await tx.call(local, "withdraw", "m2", 30);
        await tx.call(remote, "deposit", "m2", 30);
        const claim = await data.get("actors/d/Account/4");
        if (claim === undefined) throw new Error("account 4 is not claimed");
        await data.commit([{ type: "set", key: "actors/d/Account/4", value: claim.value }]);
      }),
    ).rejects.toMatchObject({ code: "TX_ABORTED" });
    expect((await stored(4))?.value.balance ?? 1_000).toBe(1_000);
    expect((await stored(5))?.value.balance ?? 1_000).toBe(1_000);
    expect(await remote.balance()).toBe(1_000);
    expect(await system0().invoke("Account", 5, "txLock", [])).toBeNull();
  });
});
