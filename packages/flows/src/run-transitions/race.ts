import type { RunRecord } from "../run-state.js";

/**
 * `group.parallel({ mode: "race" })`: once a raced step settles (completed, or failed for good),
 * its race is decided. Its siblings still planned are marked lost: they keep running, since the
 * SDK memoizes every step it found before it reports the run complete, but they no longer hold
 * the run's discovery back, so the handler gets the winner at once and goes on. Their results
 * are recorded when they come and the handler ignores them (its `Promise.race` has settled).
 * `before` is the run as the step was planned, `run` after its result was applied. Returns
 * `run` itself when nothing changes.
 */
export function settleRace(before: RunRecord, run: RunRecord, hash: string): RunRecord {
  // The planned record (`before`) carries the race mark; the settled one is written afresh.
  if (before.steps[hash]?.race !== true) return run;
  const winner = run.steps[hash];
  if (winner?.status !== "completed" && winner?.status !== "failed") return run;
  const losers = Object.entries(run.steps).filter(
    ([other, step]) =>
      other !== hash && step.race === true && step.status === "planned" && step.raceLost !== true,
  );
  if (losers.length === 0) return run;
  const steps = { ...run.steps };
  for (const [other, step] of losers) steps[other] = { ...step, raceLost: true };
  return { ...run, steps };
}
