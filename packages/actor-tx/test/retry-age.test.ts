// Wait-die with retries: a transaction that died against an older one and runs again keeps the
// age of its first attempt, so it waits for transactions started after that instead of dying
// against each of them in turn.
import { createActorSystem } from "@troupe/actors";
import {
  type Clock,
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  systemClock,
} from "@troupe/core";
import { expect, it } from "vitest";
import { createDecisionLog, createTransactions } from "../src/index.js";
import { Account } from "./bank.js";

function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

it("a retried transaction is not starved by one started after its first attempt", async () => {
  const store = createMemoryStore();
  const decisions = createDecisionLog({ store });
  const system = createActorSystem({
    store,
    queue: createMemoryQueue(),
    actors: [Account, decisions.actor],
  });
  // The first back-off (after the first conflict) waits for the test; later sleeps are real.
  const backoff = gate();
  let sleeps = 0;
  const clock: Clock = {
    now: () => systemClock.now(),
    setTimer: (ms, callback) => systemClock.setTimer(ms, callback),
    sleep: (ms, signal) => (sleeps++ === 0 ? backoff.opened : systemClock.sleep(ms, signal)),
  };
  const metrics = createMemoryMetrics();
  // Classic wait-die (no wait before dying), so the middle one dies at its first refusal.
  const transactions = createTransactions({
    system,
    decisions,
    clock,
    metrics,
    timeoutMs: 5_000,
    conflictWaitMs: 0,
  });
  const conflicts = () => metrics.value("actors_tx_conflict_retries_total");
  const busy = () => metrics.value("actors_tx_busy_retries_total");
  const account = system.get(Account, 1);
  try {
    // The oldest transaction holds the account.
    const oldHeld = gate();
    const oldDone = gate();
    const oldest = transactions.run(async (tx) => {
      await tx.call(account, "deposit", "old", 1);
      oldHeld.open();
      await oldDone.opened;
    });
    await oldHeld.opened;
    // The middle one dies against it and backs off.
    const ids: string[] = [];
    const middle = transactions.run(
      async (tx) => {
        ids.push(tx.id);
        await tx.call(account, "deposit", "middle", 1);
      },
      { conflictRetries: 5 },
    );
    await until(() => sleeps === 1);
    expect(conflicts()).toBe(1);
    // Meanwhile the oldest commits and a newer one takes the account.
    oldDone.open();
    await oldest;
    const newHeld = gate();
    const newDone = gate();
    let newId = "";
    const newest = transactions.run(async (tx) => {
      newId = tx.id;
      await tx.call(account, "deposit", "new", 1);
      newHeld.open();
      await newDone.opened;
    });
    await newHeld.opened;
    // The middle one runs again: older than the holder, it waits instead of dying.
    backoff.open();
    await until(() => busy() > 0 || conflicts() > 1);
    newDone.open();
    await Promise.all([newest, middle]);
    expect(conflicts()).toBe(1);
    expect(ids).toHaveLength(2);
    expect(ids[1] && ids[1] < newId).toBe(true);
    expect(await account.applied()).toEqual(["+old", "+new", "+middle"]);
  } finally {
    transactions.close();
    await system.close();
  }
});
