import type { RunRecord } from "../run-state.js";

/**
 * `group.parallel({ mode: "race" })`: once a raced step settles (completed, or failed for good),
 * the race is decided. Its siblings still planned are dropped, so the discovery that hands the
 * winner to the handler is due at once instead of after every sibling ran. A sibling already
 * running finds its step gone and its result is discarded (the worker only applies results to
 * steps still planned). Returns `run` itself when nothing changes.
 */
export function settleRace(run: RunRecord, hash: string): RunRecord {
  const winner = run.steps[hash];
  if (!winner?.race || (winner.status !== "completed" && winner.status !== "failed")) return run;
  const losers = Object.entries(run.steps).filter(
    ([other, step]) => other !== hash && step.race === true && step.status === "planned",
  );
  if (losers.length === 0) return run;
  const steps = { ...run.steps };
  for (const [other] of losers) delete steps[other];
  return { ...run, steps };
}
