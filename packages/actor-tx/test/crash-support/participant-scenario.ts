import type { ChildProcess } from "node:child_process";
import type { Store } from "@troupe/core";
import { expect } from "vitest";
import { auditBooks } from "../bank.js";
import { committedRecords, readBooks, START, until } from "./books.js";
import type { Backend, PlannedTransfer } from "./plan.js";
import { startTxNode, stopTxNode, type TxNode } from "./tx-node-process.js";

/** A remote participant's node dies after the victim's decision, before phase 2 reaches it. */
export interface ParticipantCrashScenario {
  readonly backend: Backend;
  /** A handle on the nodes' Store, for reading the books as they were written. */
  readonly store: Store;
  readonly accounts: number;
  /** The node that coordinates `transfers` (and hosts the victim's local participant). */
  readonly coordinator: string;
  /** The node of the victim's remote participant: SIGKILLed, then restarted. */
  readonly participant: string;
  readonly transfers: readonly PlannedTransfer[];
  readonly victim: PlannedTransfer;
  /** Run from a third node once everything settled: every one must commit. */
  readonly after: readonly PlannedTransfer[];
  readonly timeoutMs: number;
  readonly children: Set<ChildProcess>;
}

/**
 * The coordinator logs the victim's commit and holds its phase 2; the participant's node is
 * SIGKILLed, phase 2 goes out to a node that is gone, and the node restarts. The victim was
 * decided, so it must be acknowledged and applied on both sides; nothing stays locked, no
 * committed record stays unfinished, and the books balance.
 */
export async function runParticipantCrash(scenario: ParticipantCrashScenario): Promise<string> {
  const { backend, store, accounts, children } = scenario;
  const nodes: TxNode[] = [];
  const start = async (nodeId: string, extra: object = {}) => {
    const node = await startTxNode(
      { nodeId, backend, timeoutMs: scenario.timeoutMs, ...extra },
      children,
    );
    nodes.push(node);
    return node;
  };
  try {
    const participant = await start(scenario.participant);
    const coordinator = await start(scenario.coordinator, {
      transfers: scenario.transfers,
      concurrency: 4,
      crash: { point: "hold-phase-2", victim: scenario.victim.name },
    });
    await coordinator.printed(`hold ${scenario.victim.name}`);
    await stopTxNode(participant);
    coordinator.child.stdin?.write("go\n");
    await start(scenario.participant);
    await coordinator.printed("done");
    const byName = new Map(scenario.transfers.map((t) => [t.name, t]));
    const ackedNames = coordinator.acked();
    expect(ackedNames).toContain(scenario.victim.name);
    const acked = new Set(ackedNames.flatMap((name) => byName.get(name)?.ids ?? []));

    await until(
      () => readBooks(store, accounts).then((books) => books.locked),
      (locked) => locked.length === 0,
      "every prepared account to resolve",
    );
    const other = await start(`${scenario.coordinator}-after`, {
      transfers: scenario.after,
      concurrency: 2,
    });
    await other.printed("done");
    expect(other.lines.filter((line) => line.startsWith("fail "))).toEqual([]);
    for (const t of scenario.after) for (const id of t.ids) acked.add(id);
    await until(
      () => committedRecords(store),
      (open) => open.length === 0,
      "the resolvers to finish every committed record",
    );

    const books = await readBooks(store, accounts);
    expect(books.locked).toEqual([]);
    const audit = auditBooks(books.states, accounts * START, acked);
    expect(audit.problems).toEqual([]);
    return `participant killed before phase 2: ${acked.size} acknowledged, ${audit.applied.size} applied`;
  } finally {
    await Promise.all(nodes.map((node) => stopTxNode(node, "SIGTERM")));
  }
}
