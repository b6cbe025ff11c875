import {
  type Clock,
  fromUtf8,
  type Logger,
  type PubSub,
  parseWith,
  TroupeError,
  type Unsubscribe,
  utf8,
} from "@troupe/core";
import { z } from "zod";
import type { RunView, WaitForRunOptions } from "./flows-api.js";
import { viewRun } from "./run-queries.js";
import { isTerminal, type RunRecord } from "./run-state.js";
import type { LoadedRun } from "./run-store.js";

/**
 * Callers waiting for runs to finish. A run that finishes in this process wakes its waiters at
 * once (the run store reports every commit that ends a run); with a PubSub the ids of finished
 * runs are published (at most one message per event-loop turn), so waiters in other processes
 * wake too. Without a PubSub, a waiter also re-reads its run every `pollIntervalMs`, for runs
 * finished by another process.
 */
export interface RunWaiters {
  /** Resolves to the run's view once it has finished; see `Flows.waitForRun`. */
  wait(runId: string, options?: WaitForRunOptions): Promise<RunView>;
  /** A run finished in this process (its terminal state is committed). */
  finished(run: RunRecord): void;
  /** Stops listening for other processes' notices. */
  close(): Promise<void>;
}

/** What the waiters need. */
export interface RunWaitersDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pubsub?: PubSub;
  /** The PubSub channel of finished-run notices. */
  readonly channel: string;
  /** How often a waiter re-reads its run when there is no PubSub. */
  readonly recheckMs: number;
  readonly load: (runId: string) => Promise<LoadedRun | undefined>;
}

const optionsSchema = z.strictObject({
  timeoutMs: z.number().int().min(1).max(2_147_483_647).optional(),
});

interface Waiter {
  /**
   * Settles the waiter with `finished` (the run as this process just committed it), or re-reads
   * the run and settles the waiter if it finished.
   */
  check(finished?: RunRecord): void;
}

/** Creates the waiters of one engine. */
export function createRunWaiters(deps: RunWaitersDeps): RunWaiters {
  const { clock, pubsub } = deps;
  const waiters = new Map<string, Set<Waiter>>();
  let subscription: Promise<Unsubscribe> | undefined;

  const wakeWaiters = (runId: string, finished?: RunRecord) => {
    for (const waiter of waiters.get(runId) ?? []) waiter.check(finished);
  };

  const listen = () => {
    if (!pubsub || subscription) return;
    subscription = pubsub.subscribe(deps.channel, (message) => {
      for (const runId of fromUtf8(message).split("\n")) wakeWaiters(runId);
    });
    subscription.catch((error: unknown) => {
      deps.logger.warn("flows: listening for finished runs failed", { error });
    });
  };

  // Finished runs published at most once per event-loop turn.
  let unpublished: string[] = [];
  const publish = (runId: string) => {
    if (!pubsub) return;
    unpublished.push(runId);
    if (unpublished.length > 1) return;
    setImmediate(() => {
      const ids = unpublished;
      unpublished = [];
      pubsub.publish(deps.channel, utf8(ids.join("\n"))).catch((error: unknown) => {
        deps.logger.warn("flows: publishing finished runs failed", { error });
      });
    });
  };

  return {
    async wait(runId, options = {}) {
      if (typeof runId !== "string" || runId === "")
        throw new TroupeError("INVALID_ARGUMENT", "waitForRun.runId: expected a run id", {
          details: { field: "waitForRun.runId" },
        });
      const { timeoutMs } = parseWith(optionsSchema, options, "waitForRun.options");
      listen();
      return new Promise<RunView>((resolve, reject) => {
        let timeout: { cancel(): void } | undefined;
        let recheckTimer: { cancel(): void } | undefined;
        let done = false;
        let reading = false;
        let again = false;
        const settle = (outcome: () => void) => {
          if (done) return;
          done = true;
          timeout?.cancel();
          recheckTimer?.cancel();
          const set = waiters.get(runId);
          set?.delete(waiter);
          if (set?.size === 0) waiters.delete(runId);
          outcome();
        };
        const waiter: Waiter = {
          check(finished) {
            if (done) return;
            // A run this process just committed as finished needs no read.
            if (finished && isTerminal(finished.status)) {
              const view = viewRun(finished);
              settle(() => resolve(view));
              return;
            }
            // One read at a time; a notice during a read causes one more read after it.
            if (reading) {
              again = true;
              return;
            }
            reading = true;
            deps.load(runId).then(
              (loaded) => {
                reading = false;
                if (!loaded) {
                  settle(() =>
                    reject(
                      new TroupeError("NOT_FOUND", `run ${runId} does not exist`, {
                        details: { runId },
                      }),
                    ),
                  );
                } else if (isTerminal(loaded.run.status)) {
                  const view = viewRun(loaded.run);
                  settle(() => resolve(view));
                } else if (again) {
                  again = false;
                  waiter.check();
                }
              },
              (error: unknown) => {
                reading = false;
                settle(() => reject(error));
              },
            );
          },
        };
        // Registered before the first read, so a finish between the read and now is not missed.
        const set = waiters.get(runId) ?? new Set<Waiter>();
        set.add(waiter);
        waiters.set(runId, set);
        if (timeoutMs !== undefined) {
          timeout = clock.setTimer(timeoutMs, () =>
            settle(() =>
              reject(
                new TroupeError("TIMEOUT", `run ${runId} did not finish within ${timeoutMs} ms`, {
                  details: { runId, timeoutMs },
                }),
              ),
            ),
          );
        }
        if (!pubsub) {
          const recheck = () => {
            if (done) return;
            waiter.check();
            recheckTimer = clock.setTimer(deps.recheckMs, recheck);
          };
          recheckTimer = clock.setTimer(deps.recheckMs, recheck);
        }
        waiter.check();
      });
    },

    finished(run) {
      wakeWaiters(run.id, run);
      publish(run.id);
    },

    async close() {
      const pending = subscription;
      subscription = undefined;
      if (pending) await (await pending)();
    },
  };
}
