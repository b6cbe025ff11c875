import { invalidArgument, type Logger, TroupeError } from "@troupe/core";
import { checkPostPrimary, errorMessage, isPendingOutput } from "./actor-checks.js";
import { foldFor } from "./aggregate.js";
import type { FailurePolicy } from "./aggregator-api.js";
import { describeValue } from "./errors.js";
import { StatFold } from "./fold.js";
import type { CompiledRegistry } from "./registry.js";
import type {
  RegisteredSubsystem,
  Subsystem,
  SubsystemInput,
  SubsystemRegistry,
} from "./subsystems.js";
import type { Actor, StatValues, SubsystemOutput } from "./types.js";
import { asyncEmit, callEmit, isThenable } from "./writer.js";

const EMPTY_INPUT: SubsystemInput = Object.freeze({ primary: Object.freeze({}) });
/** The `outputs` and `systems` of a computation that kept none (shared, never mutated). */
export const NO_OUTPUTS: SubsystemOutput[] = [];
export const NO_SYSTEMS: string[] = [];

/** What a computation produced: the values, the failed systems, and (when explaining) outputs. */
export interface Computed {
  readonly values: StatValues;
  readonly failed: string[] | undefined;
  readonly outputs: SubsystemOutput[];
  readonly systems: string[];
}

/** What {@link createSubsystemRunner} needs from the engine. */
export interface SubsystemRunnerOptions {
  readonly subsystems: SubsystemRegistry;
  readonly failurePolicy: FailurePolicy;
  readonly logger: Logger;
  /** Changes whenever the subsystem set may have changed (the engine's state object). */
  readonly selectionToken: () => object;
}

/** Runs an actor's subsystems and folds their outputs. */
export interface SubsystemRunner {
  /**
   * Computes `actor`'s values under `registry`; synchronous in the common case. `keepOutputs`
   * keeps the outputs for explaining.
   */
  compute(
    actor: Actor,
    registry: CompiledRegistry,
    keepOutputs: boolean,
  ): Computed | Promise<Computed>;
}

/**
 * The subsystem-calling half of the stat engine: selection, calls (sync stays sync), the
 * post_primary stage and the fold. Holds per-engine scratch state, so one runner per engine.
 */
export function createSubsystemRunner(options: SubsystemRunnerOptions): SubsystemRunner {
  const { subsystems, failurePolicy, logger, selectionToken } = options;

  /** The actor's subsystems in run order; unknown or repeated ids are errors. */
  // Actors usually list the same subsystems: the last selection is reused when the ids match
  // (one reference comparison per id) and the subsystem set has not changed since.
  let lastIds: string[] = [];
  let lastSelected: RegisteredSubsystem[] = [];
  let lastSelectionState: object | undefined;
  // Of the last selection: whether any subsystem runs after the primary stage, and how many emit.
  let lastHasPost = false;
  let lastEmitting = 0;
  const selectSubsystems = (actor: Actor): RegisteredSubsystem[] => {
    const ids = actor.subsystems;
    const token = selectionToken();
    if (lastSelectionState === token && ids.length === lastIds.length) {
      let same = true;
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== lastIds[i]) {
          same = false;
          break;
        }
      }
      if (same) return lastSelected;
    }
    const selected = selectFresh(actor);
    lastIds = [...ids];
    lastSelected = selected;
    lastSelectionState = token;
    lastHasPost = selected.some((entry) => entry.postPrimary);
    lastEmitting = selected.filter((entry) => entry.emits).length;
    return selected;
  };
  const selectFresh = (actor: Actor): RegisteredSubsystem[] => {
    const ids = actor.subsystems;
    const selected: RegisteredSubsystem[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const entry = subsystems.get(id);
      if (entry === undefined) {
        throw invalidArgument(
          `actor.subsystems[${i}]`,
          `no subsystem ${describeValue(id)} is registered (actor ${JSON.stringify(actor.id)})`,
        );
      }
      // Insertion by run order: actors usually list their subsystems in a stable order.
      let j = selected.length - 1;
      selected.push(entry);
      while (j >= 0 && (selected[j] as RegisteredSubsystem).order > entry.order) {
        selected[j + 1] = selected[j] as RegisteredSubsystem;
        j--;
      }
      if (j >= 0 && (selected[j] as RegisteredSubsystem).order === entry.order) {
        throw invalidArgument(
          `actor.subsystems[${i}]`,
          `subsystem ${JSON.stringify(id)} is listed twice`,
        );
      }
      selected[j + 1] = entry;
    }
    return selected;
  };

  const subsystemFailure = (system: string, actor: Actor, cause: unknown) =>
    TroupeError.isInstance(cause, "INVALID_ARGUMENT")
      ? cause
      : new TroupeError(
          "SUBSYSTEM_FAILED",
          `subsystem ${JSON.stringify(system)} failed for actor ${JSON.stringify(actor.id)}: ${errorMessage(cause)}`,
          { cause, details: { system, actorId: actor.id } },
        );

  const scratchResults: unknown[] = [];
  let calling = false;
  // The fold of the registry used last (`foldFor` is a WeakMap lookup).
  let lastFoldRegistry: CompiledRegistry | undefined;
  let lastFold: StatFold | undefined;

  /** Calls subsystems; sync results stay sync (no promise per subsystem unless one is async). */
  const callAll = (
    actor: Actor,
    list: readonly RegisteredSubsystem[],
    input: SubsystemInput,
  ): { results: unknown[]; failures: (unknown | undefined)[] | undefined; pending: boolean } => {
    const results: unknown[] = new Array(list.length);
    let failures: (unknown | undefined)[] | undefined;
    let pending = false;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i] as RegisteredSubsystem;
      const subsystem = entry.subsystem;
      try {
        const result = entry.output(actor, input);
        if (isPendingOutput(result)) pending = true;
        results[i] = result;
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(subsystem.id, actor, error);
        failures ??= new Array(list.length);
        failures[i] = error;
      }
    }
    return { results, failures, pending };
  };

  const settle = async (
    actor: Actor,
    list: readonly RegisteredSubsystem[],
    called: ReturnType<typeof callAll>,
  ): Promise<void> => {
    // allSettled attaches a handler to every promise at once, so no rejection goes unhandled
    // while an earlier one is awaited.
    const settled = await Promise.allSettled(called.results);
    for (let i = 0; i < settled.length; i++) {
      const outcome = settled[i] as PromiseSettledResult<unknown>;
      if (outcome.status === "fulfilled") {
        called.results[i] = outcome.value;
        continue;
      }
      if (called.failures?.[i] !== undefined) continue;
      const system = (list[i] as RegisteredSubsystem).subsystem.id;
      if (failurePolicy === "fail_fast") throw subsystemFailure(system, actor, outcome.reason);
      called.failures ??= new Array(list.length);
      called.failures[i] = outcome.reason;
    }
  };

  /** Folds outputs in run order; in degrade mode invalid outputs are left out and recorded. */
  const foldOutputs = (
    registry: CompiledRegistry,
    actor: Actor,
    entries: readonly { system: string; output: unknown; failed: boolean }[],
    failed: string[] | undefined,
  ): { values: StatValues; failed: string[] | undefined } => {
    const fold = foldFor(registry);
    fold.begin();
    let failedSystems = failed;
    for (const entry of entries) {
      if (entry.failed) continue;
      try {
        fold.add(entry.output as SubsystemOutput, entry.system);
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(entry.system, actor, error);
        failedSystems ??= [];
        failedSystems.push(entry.system);
        logger.warn("stats subsystem output rejected", {
          system: entry.system,
          error: errorMessage(error),
        });
      }
    }
    return { values: fold.finish(), failed: failedSystems };
  };

  /**
   * Runs the actor's subsystems and folds their outputs. The common case (no post_primary stage,
   * every subsystem synchronous and successful, not explaining) stays synchronous and allocates
   * no bookkeeping; everything else goes through {@link computeFully}.
   */
  const compute = (
    actor: Actor,
    registry: CompiledRegistry,
    keepOutputs: boolean,
  ): Computed | Promise<Computed> => {
    const selected = selectSubsystems(actor);
    if (lastHasPost || keepOutputs) return computeFully(actor, registry, selected, undefined);
    // Subsystems are called into a reused array: this path allocates no bookkeeping. A subsystem
    // that resolves another actor from inside `contribute` gets a fresh array instead. Emitting
    // subsystems are called later, while folding, in their place.
    const results = calling ? new Array<unknown>(selected.length) : scratchResults;
    let pending = false;
    let failures: unknown[] | undefined;
    const emitters = lastEmitting > 0;
    const onlyEmitters = lastEmitting === selected.length;
    calling = true;
    try {
      for (let i = 0; i < selected.length && !onlyEmitters; i++) {
        const entry = selected[i] as RegisteredSubsystem;
        if (entry.emits) {
          results[i] = undefined;
          continue;
        }
        const subsystem = entry.subsystem;
        try {
          const result = (subsystem as Required<Subsystem>).contribute(actor, EMPTY_INPUT);
          if (isPendingOutput(result)) pending = true;
          results[i] = result;
        } catch (error) {
          if (failurePolicy === "fail_fast") throw subsystemFailure(subsystem.id, actor, error);
          failures ??= new Array(selected.length);
          failures[i] = error;
        }
      }
    } finally {
      calling = results !== scratchResults;
    }
    // A subsystem that threw under "degrade" is left out below, on this same synchronous path;
    // only a promise needs the slow one.
    if (pending) {
      const called = { results: results.slice(0, selected.length), failures, pending };
      if (emitters) {
        // The slow path folds outputs: record what the emitting subsystems write.
        for (let i = 0; i < selected.length; i++) {
          const entry = selected[i] as RegisteredSubsystem;
          if (!entry.emits) continue;
          try {
            called.results[i] = entry.output(actor, EMPTY_INPUT);
          } catch (error) {
            if (failurePolicy === "fail_fast")
              throw subsystemFailure(entry.subsystem.id, actor, error);
            called.failures ??= new Array(selected.length);
            called.failures[i] = error;
          }
        }
      }
      return computeFully(actor, registry, selected, called);
    }
    // A subsystem emitting into this registry's fold may resolve another actor from inside
    // `emit`: that resolve folds in a fold of its own.
    if (registry !== lastFoldRegistry) {
      lastFold = foldFor(registry);
      lastFoldRegistry = registry;
    }
    const shared = lastFold as StatFold;
    const fold = shared.busy ? new StatFold(registry) : shared;
    fold.begin();
    let failed: string[] | undefined;
    for (let i = 0; i < selected.length; i++) {
      const entry = selected[i] as RegisteredSubsystem;
      const system = entry.subsystem.id;
      if (failures?.[i] !== undefined) {
        failed ??= [];
        failed.push(system);
        continue;
      }
      try {
        if (entry.emits) {
          const writer = fold.beginEmit(system);
          let returned: unknown;
          try {
            returned = callEmit(entry.subsystem, actor, writer, EMPTY_INPUT);
          } catch (error) {
            fold.abortEmit();
            throw error;
          }
          if (returned !== undefined && isThenable(returned)) {
            fold.abortEmit();
            throw asyncEmit(system);
          }
          fold.endEmit();
        } else fold.add(results[i] as SubsystemOutput, system);
      } catch (error) {
        if (failurePolicy === "fail_fast") throw subsystemFailure(system, actor, error);
        failed ??= [];
        failed.push(system);
        logger.warn("stats subsystem output rejected", { system, error: errorMessage(error) });
      }
    }
    return {
      values: fold.finish(),
      failed: failed?.sort(),
      outputs: NO_OUTPUTS,
      systems: NO_SYSTEMS,
    };
  };

  const computeFully = async (
    actor: Actor,
    registry: CompiledRegistry,
    selected: readonly RegisteredSubsystem[],
    precalled: ReturnType<typeof callAll> | undefined,
  ): Promise<Computed> => {
    let hasPost = false;
    for (const entry of selected) if (entry.postPrimary) hasPost = true;
    const first = hasPost ? selected.filter((entry) => !entry.postPrimary) : selected;
    const called = precalled ?? callAll(actor, first, EMPTY_INPUT);
    if (called.pending) await settle(actor, first, called);
    let failed: string[] | undefined;
    const entries = first.map((entry, i) => {
      const isFailed = called.failures?.[i] !== undefined;
      if (isFailed) {
        failed ??= [];
        failed.push(entry.subsystem.id);
      }
      return {
        system: entry.subsystem.id,
        output: called.results[i],
        failed: isFailed,
        order: entry.order,
      };
    });
    let folded = foldOutputs(registry, actor, entries, failed);
    if (hasPost) {
      const post = selected.filter((entry) => entry.postPrimary);
      const primary = folded.values.primary;
      const postCalled = callAll(actor, post, { primary });
      if (postCalled.pending) await settle(actor, post, postCalled);
      failed = folded.failed;
      post.forEach((entry, i) => {
        const system = entry.subsystem.id;
        let isFailed = postCalled.failures?.[i] !== undefined;
        if (!isFailed) {
          // A post_primary subsystem saw the final primary values, so it may not change them.
          const problem = checkPostPrimary(postCalled.results[i], primary, system);
          if (problem !== undefined) {
            if (failurePolicy === "fail_fast") throw problem;
            isFailed = true;
          }
        }
        if (isFailed) {
          failed ??= [];
          failed.push(system);
        }
        entries.push({
          system,
          output: postCalled.results[i],
          failed: isFailed,
          order: entry.order,
        });
      });
      entries.sort((a, b) => a.order - b.order);
      folded = foldOutputs(registry, actor, entries, failed);
    }
    const failedSorted = folded.failed?.sort();
    return {
      values: folded.values,
      failed: failedSorted,
      outputs: entries
        .filter((entry) => !entry.failed && !failedSorted?.includes(entry.system))
        .map((entry) => entry.output as SubsystemOutput),
      systems: entries.map((entry) => entry.system),
    };
  };

  return { compute };
}
