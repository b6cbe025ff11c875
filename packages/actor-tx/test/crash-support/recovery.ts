import type { ChildProcess } from "node:child_process";
import type { Store } from "@troupe/core";
import { expect } from "vitest";
import { auditBooks } from "../bank.js";
import { committedRecords, readBooks, START, until } from "./books.js";
import type { Backend, PlannedTransfer } from "./plan.js";
import { startTxNode, stopTxNode, type TxNode } from "./tx-node-process.js";

/**
 * What every crash scenario names: its backend and books, the coordinator and its transfers, the
 * victim among them, and the transfers that must all commit once everything settled.
 */
export interface ScenarioBase {
  readonly backend: Backend;
  /** A handle on the nodes' Store, for reading the books as they were written. */
  readonly store: Store;
  readonly accounts: number;
  /** The node that coordinates `transfers`. */
  readonly coordinator: string;
  readonly transfers: readonly PlannedTransfer[];
  readonly victim: PlannedTransfer;
  /** Run once everything settled (on which node, the scenario says): every one must commit. */
  readonly after: readonly PlannedTransfer[];
  readonly timeoutMs: number;
  readonly children: Set<ChildProcess>;
}

/** Node processes of one scenario: started on its backend, all stopped at its end. */
export function scenarioNodes(scenario: Pick<ScenarioBase, "backend" | "timeoutMs" | "children">) {
  const nodes: TxNode[] = [];
  return {
    async start(nodeId: string, extra: object = {}): Promise<TxNode> {
      const node = await startTxNode(
        { nodeId, backend: scenario.backend, timeoutMs: scenario.timeoutMs, ...extra },
        scenario.children,
      );
      nodes.push(node);
      return node;
    },
    stopAll: () => Promise.all(nodes.map((node) => stopTxNode(node, "SIGTERM"))),
  };
}

/** The ids of the transfers `node` acknowledged, of those planned in `transfers`. */
export function ackedIds(node: TxNode, transfers: readonly PlannedTransfer[]): Set<string> {
  const byName = new Map(transfers.map((t) => [t.name, t]));
  return new Set(node.acked().flatMap((name) => byName.get(name)?.ids ?? []));
}

/**
 * What must hold after a crash, with nobody calling the accounts: every prepared account is
 * released (`releasedBy` names who releases them), `after` runs on the node `startAfter` starts
 * and every one of its transfers commits, the resolvers finish every committed record, and the
 * books balance with every acknowledged transfer (`acked`, plus `after`'s) applied exactly once.
 */
export async function checkRecovery(check: {
  readonly store: Store;
  readonly accounts: number;
  readonly acked: Set<string>;
  readonly after: readonly PlannedTransfer[];
  readonly releasedBy: string;
  readonly startAfter: () => Promise<TxNode>;
}): Promise<ReturnType<typeof auditBooks>> {
  const { store, accounts, acked } = check;
  await until(
    () => readBooks(store, accounts).then((books) => books.locked),
    (locked) => locked.length === 0,
    `${check.releasedBy} to release every prepared account`,
  );
  const after = await check.startAfter();
  await after.printed("done");
  expect(after.lines.filter((line) => line.startsWith("fail "))).toEqual([]);
  for (const t of check.after) for (const id of t.ids) acked.add(id);
  await until(
    () => committedRecords(store),
    (open) => open.length === 0,
    "the resolvers to finish every committed record",
  );
  const books = await readBooks(store, accounts);
  expect(books.locked).toEqual([]);
  const audit = auditBooks(books.states, accounts * START, acked);
  expect(audit.problems).toEqual([]);
  return audit;
}
