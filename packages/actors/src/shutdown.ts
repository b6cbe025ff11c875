import { type Clock, type Logger, TroupeError } from "@troupe/core";
import type { ActivationTable } from "./activation-table.js";
import type { ActorDirectory, ActorRemoting } from "./directory.js";
import { errorMessage } from "./errors.js";
import type { Reminders } from "./reminders.js";
import type { Router } from "./router.js";

/** What a graceful shutdown stops, drains and closes. */
export interface ShutdownParts {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly drainTimeoutMs: number;
  readonly router: Router;
  readonly table: ActivationTable;
  readonly reminders: Reminders;
  readonly directory: ActorDirectory;
  readonly remoting: ActorRemoting | undefined;
  /** Stops listening for lost claims. */
  readonly unsubscribeLost: (() => void) | undefined;
}

/**
 * Shuts a system down gracefully: refuses calls from outside, stops the reminder poll and the
 * idle sweep, lets running and waiting turns (and reminder firings) finish, deactivates every
 * actor (save, release), then closes remoting and the directory. Whatever is still busy after
 * `drainTimeoutMs` is dropped unsaved, so a handler that never settles cannot hang shutdown.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { router, table, reminders, logger, drainTimeoutMs } = parts;
  router.closing = true;
  reminders.stop();
  table.stopSweeping();
  const finished = await withinDrainTime(parts, async () => {
    // Calls made from inside turns are still served, so draining may wake more activations.
    for (;;) {
      await Promise.all([...table.byId.values()].map((act) => act.drained()));
      await reminders.settled();
      const quiet = [...table.byId.values()].every((act) => act.isQuiet());
      if (quiet && reminders.firingCount === 0) break;
    }
    // From here on nothing new starts, not even calls from inside turns.
    router.stopped = true;
    await Promise.all([...table.byId.values()].map((act) => act.deactivate("shutdown")));
  });
  if (!finished) {
    router.stopped = true;
    const stuck = [...table.byId.values()];
    logger.warn("actor system closed with turns still running; dropped them unsaved", {
      activations: stuck.map((act) => act.target.id),
      drainTimeoutMs,
    });
    for (const act of stuck) {
      act.drop(
        new TroupeError(
          "CLOSED",
          `actor ${act.target.id}: the system closed before its turns finished (drainTimeoutMs ${drainTimeoutMs})`,
        ),
      );
    }
  }
  parts.unsubscribeLost?.();
  await parts.remoting?.close();
  await parts.directory.close();
}

/** Runs `work`; resolves false if it has not finished after drainTimeoutMs (on the Clock). */
function withinDrainTime(parts: ShutdownParts, work: () => Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = parts.clock.setTimer(parts.drainTimeoutMs, () => resolve(false));
    work().then(
      () => {
        timer.cancel();
        resolve(true);
      },
      (error: unknown) => {
        timer.cancel();
        parts.logger.warn("actor system drain failed", { error: errorMessage(error) });
        resolve(false);
      },
    );
  });
}
