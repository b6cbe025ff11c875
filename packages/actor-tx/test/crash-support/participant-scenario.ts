import { expect } from "vitest";
import { ackedIds, checkRecovery, type ScenarioBase, scenarioNodes } from "./recovery.js";
import { stopTxNode } from "./tx-node-process.js";

/**
 * A remote participant's node dies after the victim's decision, before phase 2 reaches it. The
 * coordinator also hosts the victim's local participant; `after` runs from a third node.
 */
export interface ParticipantCrashScenario extends ScenarioBase {
  /** The node of the victim's remote participant: SIGKILLed, then restarted. */
  readonly participant: string;
}

/**
 * The coordinator logs the victim's commit and holds its phase 2; the participant's node is
 * SIGKILLed, phase 2 goes out to a node that is gone, and the node restarts. The victim was
 * decided, so it must be acknowledged and applied on both sides; nothing stays locked, no
 * committed record stays unfinished, and the books balance.
 */
export async function runParticipantCrash(scenario: ParticipantCrashScenario): Promise<string> {
  const { start, stopAll } = scenarioNodes(scenario);
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
    expect(coordinator.acked()).toContain(scenario.victim.name);
    const acked = ackedIds(coordinator, scenario.transfers);
    const audit = await checkRecovery({
      store: scenario.store,
      accounts: scenario.accounts,
      acked,
      after: scenario.after,
      releasedBy: "the restarted participant and the resolvers",
      startAfter: () =>
        start(`${scenario.coordinator}-after`, { transfers: scenario.after, concurrency: 2 }),
    });
    return `participant killed before phase 2: ${acked.size} acknowledged, ${audit.applied.size} applied`;
  } finally {
    await stopAll();
  }
}
