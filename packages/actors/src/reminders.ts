import {
  type Clock,
  fromUtf8,
  invalidArgument,
  type Lease,
  type Logger,
  type Metrics,
  parseWith,
  type Queue,
  type Timer,
  TroupeError,
  utf8,
} from "@troupe/core";
import { z } from "zod";
import type { ReminderSchedule } from "./define.js";
import type { Target } from "./envelope.js";
import { errorMessage } from "./errors.js";
import { type CallPort, EMPTY_CHAIN, type References } from "./refs.js";
import type { ActorTypes } from "./registry.js";
import { firstDueAt, nextPeriodicDueAt, nextPollAt, retryAt } from "./reminder-schedule.js";

/** The Queue partition reminders live in, so a queue shared with other work is left alone. */
export const REMINDER_PARTITION = "troupe.actors.reminders";
const REMINDER_BATCH = 64;

const reminderPayloadSchema = z.object({
  type: z.string(),
  key: z.string(),
  name: z.string(),
  periodMs: z.number().int().positive().optional(),
});
const scheduleSchema = z.union([
  z.strictObject({
    at: z.number().int().nonnegative(),
    periodMs: z.number().int().positive().optional(),
  }),
  z.strictObject({
    afterMs: z.number().int().nonnegative(),
    periodMs: z.number().int().positive().optional(),
  }),
]);

/** What the reminders work with. */
export interface RemindersOptions {
  readonly queue: Queue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How often the queue is polled when nothing is known to be due. */
  readonly pollMs: number;
  /** How long a firing holds its queue lease (extended while the handler runs). */
  readonly leaseMs: number;
  readonly types: ActorTypes;
  readonly refs: References;
  /** Where firings go: they are calls like any other, routed to wherever the actor lives. */
  readonly calls: CallPort;
}

/**
 * Durable reminders: items in the Queue's partition {@link REMINDER_PARTITION}, claimed by a poll
 * that sleeps until the next one is due (or `pollMs`) and fired as calls to the actor's reminder
 * handler. A wake that arrives while a poll is checking the queue is never lost: the poll looks
 * again before it goes to sleep.
 */
export class Reminders {
  private stopped = false;
  private pollTimer: Timer | undefined = undefined;
  private pollAt = Number.POSITIVE_INFINITY;
  /** The poll in progress, if any. */
  private polling: Promise<void> | undefined = undefined;
  /** Set by a wake that arrives while a poll runs: that poll must look again before sleeping. */
  private pollAgain = false;
  private readonly firing = new Set<Promise<void>>();
  private readonly fired: ReturnType<Metrics["counter"]>;

  constructor(private readonly options: RemindersOptions) {
    this.fired = options.metrics.counter("actors_reminders_fired_total", {
      help: "Reminder firings",
    });
  }

  /** Starts polling (the first poll runs at once). */
  start(): void {
    this.schedulePoll(this.options.clock.now());
  }

  /** Stops polling; firings in progress finish (see {@link Reminders.settled}). */
  stop(): void {
    this.stopped = true;
    this.pollTimer?.cancel();
    this.pollTimer = undefined;
  }

  /** How many firings are running. */
  get firingCount(): number {
    return this.firing.size;
  }

  /** Resolves once the firings running now have finished and no poll is in progress. */
  async settled(): Promise<void> {
    await Promise.all([...this.firing]);
    while (this.polling !== undefined) await this.polling;
  }

  /** `ctx.setReminder`: replaces the reminder `name` of `target`. */
  async set(target: Target, name: string, schedule: ReminderSchedule): Promise<void> {
    if (!target.definition.reminderNames.has(name)) {
      throw invalidArgument(
        "setReminder.name",
        `${target.definition.name} declares no reminder ${JSON.stringify(name)} (add it to the definition's reminders)`,
      );
    }
    const checked = parseWith(scheduleSchema, schedule, "setReminder.schedule");
    const at = firstDueAt(checked, this.options.clock.now());
    const id = reminderId(target, name);
    const payload = utf8(
      JSON.stringify({
        type: target.address.type,
        key: target.address.key,
        name,
        ...(checked.periodMs === undefined ? {} : { periodMs: checked.periodMs }),
      }),
    );
    const { queue } = this.options;
    // Enqueue dedupes on the id, so replacing a reminder is remove-then-enqueue.
    await queue.remove(id);
    await queue.enqueue({ id, payload, availableAt: at, partitionKey: REMINDER_PARTITION });
    this.schedulePoll(at);
  }

  /** `ctx.clearReminder`. */
  async clear(target: Target, name: string): Promise<void> {
    await this.options.queue.remove(reminderId(target, name));
  }

  /** Makes sure a poll runs at `at` (or earlier). */
  private schedulePoll(at: number): void {
    if (this.stopped) return;
    if (this.pollTimer !== undefined) {
      if (this.pollAt <= at) return;
      this.pollTimer.cancel();
    }
    const { clock } = this.options;
    this.pollAt = at;
    this.pollTimer = clock.setTimer(at - clock.now(), () => {
      this.pollTimer = undefined;
      this.pollAt = Number.POSITIVE_INFINITY;
      this.wake();
    });
  }

  /** Something may be due: poll now, or make the running poll look again before it sleeps. */
  private wake(): void {
    if (this.stopped) return;
    if (this.polling !== undefined) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
    });
  }

  /** Claims due reminders and fires them; then sleeps until the next one (or the poll interval). */
  private async poll(): Promise<void> {
    const { queue, clock, leaseMs, pollMs, logger } = this.options;
    try {
      for (;;) {
        // Cleared before the check: a wake from here on sets it again and is seen below.
        this.pollAgain = false;
        for (;;) {
          const leases = await queue.claim({
            limit: REMINDER_BATCH,
            leaseMs,
            partitionKey: REMINDER_PARTITION,
          });
          for (const lease of leases) {
            const firing = this.fire(lease);
            this.firing.add(firing);
            void firing.finally(() => this.firing.delete(firing));
          }
          if (leases.length < REMINDER_BATCH || this.stopped) break;
        }
        if (this.stopped) return;
        const next = await queue.nextAvailableAt(REMINDER_PARTITION);
        // A wake during the check may announce an item the check did not see: look again.
        if (this.pollAgain && !this.stopped) continue;
        const now = clock.now();
        this.schedulePoll(nextPollAt(next, now, pollMs));
        return;
      }
    } catch (error) {
      if (!this.stopped) {
        logger.warn("actor reminder poll failed", { error: errorMessage(error) });
        this.schedulePoll(clock.now() + pollMs);
      }
    }
  }

  private async fire(lease: Lease): Promise<void> {
    const { types, refs, calls, clock, logger, queue } = this.options;
    let payload: z.infer<typeof reminderPayloadSchema>;
    try {
      payload = reminderPayloadSchema.parse(JSON.parse(fromUtf8(lease.payload)));
    } catch (error) {
      logger.error("actor reminder item is not a reminder; dropping it", {
        id: lease.id,
        error: errorMessage(error),
      });
      await queue.ack(lease).catch(() => {});
      return;
    }
    const compiled = types.find(payload.type);
    const action = compiled?.actions.get(`@reminder:${payload.name}`);
    const now = clock.now();
    try {
      if (compiled === undefined || action === undefined) {
        throw new TroupeError(
          "NOT_FOUND",
          `no reminder handler ${payload.type}.${payload.name} on this node`,
        );
      }
      const ref = refs.of(types.targetOfAddressKey(compiled, payload.key), EMPTY_CHAIN);
      this.fired.inc();
      // Keep the lease while the handler runs, so a slow one does not fire again elsewhere.
      const keeper = this.keepLease(lease);
      try {
        // Fired while closing: the call is refused and the item retried by the next system.
        await calls.request(ref, action, [
          { name: payload.name, dueAt: lease.availableAt, attempt: lease.attempts },
        ]);
      } finally {
        keeper.cancel();
      }
    } catch (error) {
      if (!this.stopped) {
        logger.warn("actor reminder failed; retrying", {
          id: lease.id,
          attempt: lease.attempts,
          error: errorMessage(error),
        });
      }
      await this.finish(lease, retryAt(now, lease.attempts));
      return;
    }
    if (payload.periodMs === undefined) await this.finish(lease, undefined);
    else {
      await this.finish(lease, nextPeriodicDueAt(lease.availableAt, clock.now(), payload.periodMs));
    }
  }

  /** Extends `lease` every half lease until cancelled. */
  private keepLease(lease: Lease): Timer {
    const { clock, queue, leaseMs, logger } = this.options;
    let timer: Timer | undefined;
    let cancelled = false;
    const extend = () => {
      timer = clock.setTimer(Math.max(1, Math.floor(leaseMs / 2)), () => {
        if (cancelled) return;
        queue.extend(lease, leaseMs).then(
          () => {
            if (!cancelled) extend();
          },
          (error: unknown) => {
            // LEASE_LOST: the handler replaced or cleared its own reminder.
            if (!TroupeError.isInstance(error, "LEASE_LOST")) {
              logger.warn("actor reminder lease could not be extended", {
                id: lease.id,
                error: errorMessage(error),
              });
            }
          },
        );
      });
    };
    extend();
    return {
      cancel: () => {
        cancelled = true;
        timer?.cancel();
      },
    };
  }

  /** Acknowledges a fired reminder, or releases it to fire again at `retryAt`. */
  private async finish(lease: Lease, again: number | undefined): Promise<void> {
    const { queue, logger } = this.options;
    try {
      if (again === undefined) await queue.ack(lease);
      else {
        await queue.retry(lease, { availableAt: again });
        this.schedulePoll(again);
      }
    } catch (error) {
      // LEASE_LOST: the handler replaced or cleared its own reminder; nothing left to finish.
      if (!TroupeError.isInstance(error, "LEASE_LOST")) {
        logger.warn("actor reminder could not be finished", {
          id: lease.id,
          error: errorMessage(error),
        });
      }
    }
  }
}

function reminderId(target: Target, name: string): string {
  return `actors/${target.id}/${name}`;
}
