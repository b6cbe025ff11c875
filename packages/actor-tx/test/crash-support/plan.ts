// What the commit-path crash tests hand to a node process (test/crash-worker/tx-node.ts): its
// backend, the transfers it coordinates, and where in the victim's commit it SIGKILLs itself.
import { planTransfers } from "../bank.js";

/**
 * Where the coordinator dies (or, for "hold-phase-2", stops before it sends the victim's
 * phase 2 until the test has killed a participant's node): "before-commit" after every participant prepared (staged in
 * memory or durably), before the commit that decides; "after-commit" right after that commit,
 * before the local participants adopt their staged states and before any remote one hears phase
 * 2; "during-phase-2" once the first remote participant acknowledged its txCommit, the others
 * never told.
 */
export type CrashPoint = "before-commit" | "after-commit" | "during-phase-2" | "hold-phase-2";

/** One step of a transfer: `Account(key).action(transferId, amount)`. */
export type Step = readonly [
  key: number,
  action: "withdraw" | "deposit",
  id: string,
  amount: number,
];

/** A transaction the node runs; `ids` are the transfer ids its steps carry (for the audit). */
export interface PlannedTransfer {
  readonly name: string;
  readonly ids: readonly string[];
  readonly steps: readonly Step[];
}

export type Backend =
  | { readonly kind: "sqlite"; readonly path: string }
  | {
      readonly kind: "postgres";
      readonly url: string;
      readonly schema: string;
      readonly natsUrl: string;
      readonly subjectPrefix: string;
      readonly leaseMs: number;
      /** Account k lives on node `homes[k % homes.length]` while that node is up. */
      readonly homes: readonly string[];
    };

export interface NodeConfig {
  readonly nodeId: string;
  readonly backend: Backend;
  readonly timeoutMs: number;
  readonly concurrency?: number;
  readonly transfers?: readonly PlannedTransfer[];
  readonly crash?: { readonly point: CrashPoint; readonly victim: string };
}

/** A two-step transfer `from` → `to` named `id`. */
export function transfer(id: string, from: number, to: number, amount: number): PlannedTransfer {
  return {
    name: id,
    ids: [id],
    steps: [
      [from, "withdraw", id, amount],
      [to, "deposit", id, amount],
    ],
  };
}

/**
 * Two transfers in one transaction: `from` pays `a` and `b` (two steps on `from`), so the
 * transaction has three participants. All four entries appear together or not at all.
 */
export function fanOut(name: string, from: number, a: number, b: number): PlannedTransfer {
  const [first, second] = [`${name}-a`, `${name}-b`];
  return {
    name,
    ids: [first, second],
    steps: [
      [from, "withdraw", first, 7],
      [from, "withdraw", second, 9],
      [a, "deposit", first, 7],
      [b, "deposit", second, 9],
    ],
  };
}

/** `count` seeded random transfers among `accounts`, named `<prefix><i>`. */
export function randomTransfers(
  prefix: string,
  count: number,
  accounts: number,
  seed: number,
): PlannedTransfer[] {
  return planTransfers(count, accounts, seed).map((t) =>
    transfer(`${prefix}${t.id}`, t.from, t.to, t.amount),
  );
}
