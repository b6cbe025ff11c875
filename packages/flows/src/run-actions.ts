import { invalidArgument, StoreConflictError, TroupeError } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import type { SerializedError } from "./errors.js";
import { deriveItems } from "./queue-items.js";
import { isPending, isTerminal, type RunRecord, type StepRecord } from "./run-state.js";
import { finishRun } from "./run-transitions/finish.js";
import { resolveStep, type StepOutcome } from "./run-transitions/resolve-step.js";

/**
 * Changes to one run from outside its worker: a pending step resolved (an event, a child's end),
 * a cancellation, a rerun. Each reads the run, applies a transition and commits it guarded by
 * the version, re-reading on a conflict.
 */
export interface RunActions {
  /**
   * Resolves a pending step of a run if `resolver` still gives it an outcome; resolves to the
   * run as committed, or undefined when nothing changed.
   */
  resolvePending(
    runId: string,
    hash: string,
    resolver: (step: StepRecord, run: RunRecord) => StepOutcome | undefined,
  ): Promise<RunRecord | undefined>;
  /** Cancels an unfinished run; resolves to it as committed, or undefined if it had finished. */
  cancel(runId: string, error: SerializedError): Promise<RunRecord | undefined>;
  /** Starts a new run with a run's events, keeping the results of the steps before `fromStep`. */
  rerun(runId: string, options?: { fromStep?: string }): Promise<string>;
}

/** Creates the run actions of an engine. */
export function createRunActions(ctx: FlowsContext): RunActions {
  return {
    async resolvePending(runId, hash, resolver) {
      for (;;) {
        const loaded = await ctx.runs.load(runId);
        if (!loaded || isTerminal(loaded.run.status)) return undefined;
        const step = loaded.run.steps[hash];
        if (!step || !isPending(step)) return undefined;
        const outcome = resolver(step, loaded.run);
        if (!outcome) return undefined;
        const resolved = resolveStep(loaded.run, hash, outcome, ctx.clock.now());
        if (!resolved) return undefined;
        try {
          await ctx.runs.save(loaded, resolved.run, resolved.effects.ops);
        } catch (error) {
          if (StoreConflictError.isInstance(error)) continue;
          throw error;
        }
        await ctx.enqueue(deriveItems(resolved.run, ctx.clock.now()));
        return resolved.run;
      }
    },

    async cancel(runId, error) {
      for (;;) {
        const loaded = await ctx.runs.load(runId);
        if (!loaded || isTerminal(loaded.run.status)) return undefined;
        const finished = finishRun(loaded.run, "cancelled", { error }, ctx.clock.now());
        try {
          await ctx.runs.save(loaded, finished.run, finished.ops);
        } catch (conflict) {
          if (StoreConflictError.isInstance(conflict)) continue;
          throw conflict;
        }
        await ctx.lifecycle.afterTerminal(finished.run);
        return finished.run;
      }
    },

    async rerun(runId, options = {}) {
      const loaded = await ctx.runs.load(runId);
      if (!loaded)
        throw new TroupeError("NOT_FOUND", `run ${runId} does not exist`, { details: { runId } });
      const registered = ctx.registry.get(loaded.run.functionId);
      if (!registered)
        throw new TroupeError("NOT_FOUND", `function ${loaded.run.functionId} is not registered`);
      const steps: Record<string, StepRecord> = {};
      const stack: string[] = [];
      if (options.fromStep !== undefined) {
        const from = options.fromStep;
        const position = loaded.run.stack.findIndex(
          (hash) => hash === from || loaded.run.steps[hash]?.name === from,
        );
        if (position < 0)
          throw invalidArgument(
            "rerun.fromStep",
            `run ${runId} has no finished step ${JSON.stringify(from)}`,
          );
        for (const hash of loaded.run.stack.slice(0, position)) {
          const step = loaded.run.steps[hash];
          if (step) {
            steps[hash] = step;
            stack.push(hash);
          }
        }
      }
      const created = ctx.runs.create(registered.definition, loaded.run.events, {
        rerunOf: runId,
        steps,
        stack,
      });
      const committed = await ctx.runs.commitNew(created.ops, [created.run], {
        markerId: created.run.id,
      });
      await ctx.enqueue(deriveItems(created.run, ctx.clock.now()));
      ctx.runs.markerDone(committed.markerKey);
      return created.run.id;
    },
  };
}
