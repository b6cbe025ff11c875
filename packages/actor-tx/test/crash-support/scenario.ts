import { expect } from "vitest";
import type { CrashPoint } from "./plan.js";
import { ackedIds, checkRecovery, type ScenarioBase, scenarioNodes } from "./recovery.js";

/**
 * One crash of a coordinator that hosts participants, and the recovery after it: the coordinator
 * dies at `point` of `victim` and restarts; the restarted coordinator runs `after` once the
 * survivors resolved.
 */
export interface CrashScenario extends ScenarioBase {
  /** Nodes that stay up throughout (each hosts its share of the accounts). */
  readonly survivors: readonly string[];
  readonly point: CrashPoint;
}

/**
 * Runs the scenario: the survivors start, the coordinator runs `transfers` (4 at a time) and
 * SIGKILLs itself at `point` of `victim`. Without anyone calling them, the survivors must release
 * every durable lock the crash left; the coordinator restarts on the same data and runs `after`
 * (all commit), the resolvers finish every committed record, and the books balance: nothing
 * half-applied, every acknowledged transfer exactly once, the victim applied exactly when the
 * crash came after its deciding commit.
 */
export async function runCrashScenario(scenario: CrashScenario): Promise<string> {
  const { start, stopAll } = scenarioNodes(scenario);
  try {
    for (const id of scenario.survivors) await start(id);
    const coordinator = await start(scenario.coordinator, {
      transfers: scenario.transfers,
      concurrency: 4,
      crash: { point: scenario.point, victim: scenario.victim.name },
    });
    const ended = await Promise.race([
      coordinator.exited.then((signal) => `exit ${signal}`),
      coordinator.printed("done").then(() => "done"),
    ]);
    const victimLines = coordinator.lines.filter((line) =>
      line.endsWith(` ${scenario.victim.name}`),
    );
    expect(ended, `the victim never reached ${scenario.point}: ${victimLines}`).toBe(
      "exit SIGKILL",
    );
    expect(victimLines).toEqual([`crash ${scenario.victim.name}`]);
    const acked = ackedIds(coordinator, scenario.transfers);
    // Nobody calls the participants: the survivors' timers and resolvers settle them.
    const audit = await checkRecovery({
      store: scenario.store,
      accounts: scenario.accounts,
      acked,
      after: scenario.after,
      releasedBy: "the survivors",
      startAfter: () => start(scenario.coordinator, { transfers: scenario.after, concurrency: 2 }),
    });
    const victimApplied = scenario.victim.ids.map((id) => audit.applied.has(id));
    expect(victimApplied).toEqual(
      scenario.victim.ids.map(() => scenario.point !== "before-commit"),
    );
    return `${scenario.point}: ${acked.size} acknowledged, ${audit.applied.size} applied`;
  } finally {
    await stopAll();
  }
}
