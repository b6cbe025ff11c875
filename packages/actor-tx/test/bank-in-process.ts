import { type ActorSystem, createActorSystem } from "@troupe/actors";
import { createMemoryQueue, type Queue, type Store, TroupeError } from "@troupe/core";
import { expect } from "vitest";
import { createDecisionLog, createTransactions, type Transactions } from "../src/index.js";
import { Account, auditBooks, planTransfers } from "./bank.js";

/** Where a bank run keeps its data; `reopen` simulates a process restart on the same data. */
export interface BankBackend {
  open(): Promise<{ store: Store; queue: Queue }>;
  /** Closes what `open` returned (a persistent backend keeps its data for the next `open`). */
  close(ports: { store: Store; queue: Queue }): Promise<void>;
}

export const memoryQueue = () => createMemoryQueue();

class Crash extends Error {}

const ACCOUNTS = 100;
const START = 1_000;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * 100 accounts, `count` concurrent random transfers; the coordinator of some transfers "crashes"
 * after the prepare phase or after logging the decision (fault injection), then the node restarts
 * on the same data. The books must balance, crashed-after-decision transfers must be applied,
 * crashed-before-decision ones must not, and every acknowledged transfer exactly once.
 */
export async function runBankScenario(backend: BankBackend, count: number): Promise<void> {
  const plan = planTransfers(count, ACCOUNTS, 19);
  const crashAfterPrepare = new Set(plan.filter((_, i) => i % 97 === 13).map((t) => t.id));
  const crashAfterDecision = new Set(plan.filter((_, i) => i % 89 === 7).map((t) => t.id));
  const txToTransfer = new Map<string, string>();
  const crashedBeforeDecision = new Set<string>();
  const crashedAfterDecision = new Set<string>();
  let ports = await backend.open();
  let decisions = createDecisionLog({ store: ports.store });
  let system: ActorSystem = createActorSystem({ ...ports, actors: [Account, decisions.actor] });
  let transactions: Transactions = createTransactions({
    system,
    decisions,
    timeoutMs: 400,
    resolveEveryMs: 100,
    resolveGraceMs: 100,
    faults: {
      afterPrepare(txId) {
        const id = txToTransfer.get(txId) ?? "";
        if (!crashAfterPrepare.has(id)) return;
        crashedBeforeDecision.add(id);
        throw new Crash(txId);
      },
      afterDecision(txId) {
        const id = txToTransfer.get(txId) ?? "";
        if (!crashAfterDecision.has(id)) return;
        crashedAfterDecision.add(id);
        throw new Crash(txId);
      },
    },
  });
  const acked = new Set<string>();
  const failures = new Map<string, number>();
  let cursor = 0;
  const worker = async () => {
    while (cursor < plan.length) {
      const transfer = plan[cursor++];
      if (transfer === undefined) return;
      try {
        await transactions.run(
          async (tx) => {
            txToTransfer.set(tx.id, transfer.id);
            await tx.call(
              system.get(Account, transfer.from),
              "withdraw",
              transfer.id,
              transfer.amount,
            );
            await tx.call(
              system.get(Account, transfer.to),
              "deposit",
              transfer.id,
              transfer.amount,
            );
          },
          { conflictRetries: 30 },
        );
        acked.add(transfer.id);
      } catch (error) {
        const code =
          error instanceof Crash ? "CRASH" : TroupeError.isInstance(error) ? error.code : "other";
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  expect(
    [...failures.keys()].filter(
      (code) => !["CRASH", "TX_TIMEOUT", "TX_CONFLICT", "INSUFFICIENT_FUNDS"].includes(code),
    ),
  ).toEqual([]);
  // Some planned crashes never happen (that transfer failed earlier for want of funds).
  expect(failures.get("CRASH")).toBe(crashedBeforeDecision.size + crashedAfterDecision.size);
  expect(crashedBeforeDecision.size).toBeGreaterThan(0);
  expect(crashedAfterDecision.size).toBeGreaterThan(0);

  // Restart on the same data: the new node finds the in-doubt participants and resolves them.
  transactions.close();
  await system.close();
  await backend.close(ports);
  ports = await backend.open();
  decisions = createDecisionLog({ store: ports.store });
  system = createActorSystem({ ...ports, actors: [Account, decisions.actor] });
  transactions = createTransactions({ system, decisions, resolveEveryMs: 100, resolveGraceMs: 0 });
  await transactions.resolveNow();
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => system.get(Account, i));
  await until(
    async () =>
      (await Promise.all(accounts.map((_, i) => system.invoke("Account", i, "txLock", [])))).every(
        (lock) => lock === null,
      ),
    "every prepared account to resolve",
  );
  const states = await Promise.all(
    accounts.map(async (a) => ({ balance: await a.balance(), applied: await a.applied() })),
  );
  const audit = auditBooks(states, ACCOUNTS * START, acked);
  expect(audit.problems).toEqual([]);
  for (const id of crashedAfterDecision) {
    expect(audit.applied.has(id), `${id}: commit was logged`).toBe(true);
  }
  for (const id of crashedBeforeDecision) {
    expect(audit.applied.has(id), `${id}: never decided`).toBe(false);
  }
  expect(acked.size, JSON.stringify([...failures])).toBeGreaterThan(count / 2);
  transactions.close();
  await system.close();
  await backend.close(ports);
}
