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
 *
 * A waiter's first read answers "did it finish before I started waiting?". It is skipped for a
 * run this process committed unfinished while it was already listening to the notices, with no
 * notice for it since: every commit that finishes a run publishes its id, and a finish elsewhere
 * comes after that commit of ours (it is guarded by the version we wrote), so its notice reaches
 * this process's subscription and forgets the run, and the waiter reads as usual. A finish here
 * settles the waiter directly. A notice the PubSub loses strands such a waiter until its timeout,
 * as it strands one registered before the finish today.
 */
export interface RunWaiters {
  /** Resolves to the run's view once it has finished; see `Flows.waitForRun`. */
  wait(runId: string, options?: WaitForRunOptions): Promise<RunView>;
  /** A run finished in this process (its terminal state is committed). */
  finished(run: RunRecord): void;
  /**
   * Asked just before this process commits runs: while the finished-run notices are being
   * listened to, a function to call with the runs once the commit has succeeded. A run committed
   * unfinished then counts as known until a notice names it or it finishes here, and a
   * `wait` for it skips its first read (see {@link createRunWaiters}).
   */
  tracking(): ((runs: readonly RunRecord[]) => void) | undefined;
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
  // True once the subscription is live (its LISTEN has run); false again if it failed or closed.
  let listening = false;
  // Runs this process committed unfinished while listening, with no notice naming them since.
  const known = new Set<string>();
  const MAX_KNOWN = 10_000;
  const track = (runs: readonly RunRecord[]) => {
    if (!listening) return;
    if (known.size > MAX_KNOWN) known.clear();
    for (const run of runs) {
      if (isTerminal(run.status)) known.delete(run.id);
      else known.add(run.id);
    }
  };

  const wakeWaiters = (runId: string, finished?: RunRecord) => {
    for (const waiter of waiters.get(runId) ?? []) waiter.check(finished);
  };

  const listen = () => {
    if (!pubsub || subscription) return;
    const subscribing = pubsub.subscribe(deps.channel, (message) => {
      for (const runId of fromUtf8(message).split("\n")) {
        known.delete(runId);
        wakeWaiters(runId);
      }
    });
    subscription = subscribing;
    subscribing.then(
      () => {
        if (subscription === subscribing) listening = true;
      },
      (error: unknown) => {
        deps.logger.warn("flows: listening for finished runs failed", { error });
      },
    );
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
        // A run known unfinished needs no first read: a finish from now on reaches the waiter.
        if (!known.has(runId)) waiter.check();
      });
    },

    finished(run) {
      known.delete(run.id);
      wakeWaiters(run.id, run);
      publish(run.id);
    },

    tracking() {
      return listening ? track : undefined;
    },

    async close() {
      listening = false;
      known.clear();
      const pending = subscription;
      subscription = undefined;
      if (pending) await (await pending)();
    },
  };
}
