import { StoreConflictError, TroupeError } from "@troupe/core";
import type { DriverRequest, DriverResponse } from "./driver.js";
import type { FlowsContext } from "./engine-context.js";
import { serializeError } from "./errors.js";
import type { LeaseGate } from "./flow-control/execution.js";
import { blockingSteps, deriveItems, type Item, itemId, type RunItem } from "./queue-items.js";
import { isPending, isTerminal, memoOf, type RunRecord } from "./run-state.js";
import type { LoadedRun } from "./run-store.js";
import { applyDriverResponse } from "./run-transitions/apply-response.js";
import { startRun } from "./run-transitions/finish.js";
import { timerFired } from "./run-transitions/timer-fired.js";
import type { TransitionEnv, TransitionMode } from "./run-transitions/transition.js";
import { readSignalHolders } from "./signals.js";

/** What one transition of a run item did. */
export interface Advance {
  readonly run?: RunRecord;
  /** A discovery due now, which the worker may run inline. */
  readonly next?: Item;
  /** The run as this worker just committed it, so an inline continuation need not re-read it. */
  readonly saved?: LoadedRun;
  /** The lease's item was parked behind a full concurrency key: acknowledge it, nothing else. */
  readonly parked?: boolean;
  /** The run ended and the lease's item was acknowledged in the same commit: nothing is left. */
  readonly acked?: boolean;
  /** The driver's `resume` for `next` (see `DriverRequest.resume`), when it gave one. */
  readonly resume?: unknown;
}

/** One transition for a run's queue item: timeouts, a timer, or a call to the driver. */
export type AdvanceRun = (
  item: RunItem,
  preloaded?: LoadedRun,
  gate?: LeaseGate,
  resume?: unknown,
) => Promise<Advance>;

/** Creates the worker's run step. */
export function createAdvance(ctx: FlowsContext): AdvanceRun {
  const envFor = (run: RunRecord): TransitionEnv => ({
    now: ctx.clock.now(),
    random: ctx.random,
    backoff: ctx.backoff,
    newId: ctx.newId,
    maxAttempts: (ctx.registry.definition(run.functionId)?.retries ?? 0) + 1,
    keys: ctx.keys,
    hasFunction: (functionId) => ctx.registry.has(functionId),
  });

  const callDriver = async (
    run: RunRecord,
    stepId: string,
    attempt: number,
    resume?: unknown,
  ): Promise<DriverResponse> => {
    const registered = ctx.registry.get(run.functionId);
    if (!registered) {
      return {
        type: "error",
        retriable: false,
        error: {
          name: "FLOWS_FUNCTION_NOT_FOUND",
          message: `function ${JSON.stringify(run.functionId)} is not registered in this engine (never registered, or removed by unregisterFunction)`,
        },
      };
    }
    const event = run.events[0];
    if (!event) throw new TroupeError("INTERNAL", `run ${run.id} has no event`);
    const request: DriverRequest = {
      functionId: run.functionId,
      runId: run.id,
      event,
      events: run.events,
      steps: memoOf(run),
      stack: run.stack,
      stepId,
      attempt,
      maxAttempts: registered.definition.retries + 1,
      disableImmediateExecution: run.forcePlan,
      ...(resume === undefined ? {} : { resume }),
    };
    try {
      return await registered.driver.execute(request);
    } catch (error) {
      return { type: "error", retriable: true, error: serializeError(error) };
    }
  };

  const countSteps = (run: RunRecord, response: DriverResponse) => {
    if (response.type !== "ops") return;
    for (const op of response.ops) {
      if (op.op !== "StepRun" && op.op !== "StepError" && op.op !== "StepFailed") continue;
      const status = run.steps[op.id]?.status;
      const outcome =
        status === "completed" ? "completed" : status === "failed" ? "failed" : "retried";
      ctx.metrics.stepsTotal.inc(1, { function: run.functionId, outcome });
      if (op.timing) {
        ctx.metrics.stepDuration.observe(op.timing.endedAt - op.timing.startedAt, {
          function: run.functionId,
        });
      }
    }
  };

  /** Applies the driver's answer to `current`; on a conflict re-reads and re-applies if valid. */
  const settleResponse = async (
    item: Extract<RunItem, { kind: "discover" | "step" }>,
    mode: TransitionMode,
    loaded: LoadedRun,
    response: DriverResponse,
    gate: LeaseGate | undefined,
  ): Promise<Advance> => {
    // Apply to the state we read; on a conflict re-read and re-apply if still valid, so a step
    // that ran is not run again just because a sibling committed first.
    let current = loaded;
    for (;;) {
      const target = current.run;
      const stillValid =
        !isTerminal(target.status) &&
        (item.kind === "discover"
          ? target.gen === item.gen && blockingSteps(target).length === 0
          : target.steps[item.hash]?.status === "planned");
      if (!stillValid) return { run: target };
      const finishMs = ctx.registry.definition(target.functionId)?.finishTimeoutMs;
      const started = startRun(target, ctx.clock.now(), finishMs);
      const signalHolders = await readSignalHolders(ctx, target, response);
      const env = envFor(target);
      const applied = applyDriverResponse(
        started,
        response,
        mode,
        signalHolders ? { ...env, signalHolders } : env,
      );
      const ops = [...applied.effects.ops];
      const children = applied.effects.children.map((child) => {
        const definition = ctx.registry.definition(child.functionId);
        if (!definition)
          throw new TroupeError("INTERNAL", `invoked function ${child.functionId} vanished`);
        const created = ctx.runs.create(definition, [child.event], {
          id: child.runId,
          parent: { runId: target.id, hash: child.parentHash },
        });
        ops.push(...created.ops);
        return created.run;
      });
      // A run that ends here with nothing to do after it: its item's ack rides on this commit.
      const ackNow =
        gate !== undefined &&
        ctx.batcher.pairsQueue &&
        isTerminal(applied.run.status) &&
        children.length === 0 &&
        applied.effects.lookbacks.length === 0 &&
        !ctx.lifecycle.hasWorkAfter(applied.run);
      let saved: LoadedRun & { readonly acked?: boolean };
      try {
        saved = await ctx.runs.save(
          current,
          applied.run,
          ops,
          ackNow ? { id: gate.lease.id, leaseId: gate.lease.leaseId } : undefined,
        );
      } catch (error) {
        if (!StoreConflictError.isInstance(error)) throw error;
        const reloaded = await ctx.runs.load(item.runId);
        if (!reloaded) return {};
        current = reloaded;
        continue;
      }
      countSteps(applied.run, response);
      if (children.length > 0) {
        ctx.runs.countCreated(children);
        const now = ctx.clock.now();
        await ctx.enqueue(children.flatMap((child) => deriveItems(child, now)));
      }
      for (const wait of applied.effects.lookbacks) {
        const resolved = await ctx.waits.lookback(applied.run, wait);
        if (resolved && blockingSteps(resolved).length === 0) {
          return {
            run: resolved,
            next: { kind: "discover", runId: resolved.id, gen: resolved.gen },
          };
        }
      }
      if (saved.acked) return { run: applied.run, acked: true };
      if (!applied.next) return { run: applied.run };
      // The handler waits where this answer left it: the inline discovery may go on from there.
      const resume =
        response.type === "ops" && applied.next.kind === "discover" ? response.resume : undefined;
      return resume === undefined
        ? { run: applied.run, next: applied.next, saved }
        : { run: applied.run, next: applied.next, saved, resume };
    }
  };

  return async (item, preloaded, gate, resume) => {
    let known = preloaded;
    for (;;) {
      const loaded = known ?? (await ctx.runs.load(item.runId));
      known = undefined;
      if (!loaded) return {};
      const run = loaded.run;
      if (isTerminal(run.status)) return { run };
      const now = ctx.clock.now();

      if (run.status === "queued" && run.startBy !== undefined && now > run.startBy) {
        const cancelled = await ctx.actions.cancel(run.id, {
          name: "FLOWS_START_TIMEOUT",
          message: "the run did not start within timeouts.start",
        });
        return { run: cancelled ?? run };
      }
      if (run.finishBy !== undefined && now >= run.finishBy) {
        const cancelled = await ctx.actions.cancel(run.id, {
          name: "FLOWS_FINISH_TIMEOUT",
          message: "the run did not finish within timeouts.finish",
        });
        return { run: cancelled ?? run };
      }
      if (item.kind === "deadline") return { run };

      if (item.kind === "timer") {
        const step = run.steps[item.hash];
        if (!step || !isPending(step) || step.status === "planned") return { run };
        if ((step.at ?? 0) > now) return { run };
        // The child may have finished while its notification was lost: its result counts.
        const child =
          step.status === "invoking" && step.child
            ? (await ctx.runs.load(step.child.runId))?.run
            : undefined;
        const fired = timerFired(run, item.hash, child, now);
        if (!fired) return { run };
        let saved: LoadedRun;
        try {
          saved = await ctx.runs.save(loaded, fired.run, fired.effects.ops);
        } catch (error) {
          if (StoreConflictError.isInstance(error)) continue;
          throw error;
        }
        return fired.next ? { run: fired.run, next: fired.next, saved } : { run: fired.run };
      }

      let mode: TransitionMode;
      let attempt: number;
      if (item.kind === "discover") {
        if (item.gen !== run.gen || blockingSteps(run).length > 0) return { run };
        if (run.nextAt !== undefined && run.nextAt > now) return { run };
        mode = "discover";
        attempt = run.attempt;
      } else {
        const step = run.steps[item.hash];
        if (step?.status !== "planned") return { run };
        if (step.at !== undefined && step.at > now) return { run };
        mode = { step: item.hash };
        attempt = step.attempts;
      }
      let current: LoadedRun = loaded;
      if (gate) {
        // Flow control right before executing: the throttle decides a queued run's start (its
        // TAT is committed with the run), then the run's concurrency slots are taken.
        const verdict = await ctx.execution.throttle(run);
        if (verdict.kind !== "none") {
          try {
            current = await ctx.runs.save(loaded, run, [verdict.op]);
          } catch (error) {
            if (StoreConflictError.isInstance(error)) continue;
            throw error;
          }
          if (verdict.kind === "later") return { run };
        }
        const own = itemId(item) === gate.lease.id;
        if (!(await ctx.execution.acquire(gate, run, own)))
          return own ? { run, parked: true } : { run };
      }
      const response = await callDriver(
        run,
        mode === "discover" ? "discover" : mode.step,
        attempt,
        mode === "discover" ? resume : undefined,
      );
      return settleResponse(item, mode, current, response, gate);
    }
  };
}
