import { invalidArgument, type Timer } from "@troupe/core";
import type { Activation } from "./activation.js";
import type { ActorContext, ActorTimer, CompiledAction, TimerOptions } from "./define.js";
import { Envelope } from "./envelope.js";
import { errorMessage } from "./errors.js";
import { ACTIVE } from "./lifecycle.js";

interface TimerEntry extends ActorTimer {
  handle: Timer | undefined;
  cancelled: boolean;
}

/**
 * An activation's volatile timers (`ctx.setTimer`): each firing is submitted to the activation as
 * a turn; they die with the activation and count as activity only with `keepAlive`.
 */
export class ActivationTimers {
  private readonly entries = new Set<TimerEntry>();

  constructor(private readonly activation: Activation) {}

  /** Starts a timer; its firings run as turns while the activation is active. */
  start(
    options: TimerOptions,
    callback: (ctx: ActorContext<unknown, unknown>) => unknown,
  ): ActorTimer {
    validateTimerOptions(options);
    if (typeof callback !== "function") {
      throw invalidArgument("setTimer.callback", "expected a function");
    }
    const activation = this.activation;
    const { clock, logger } = activation.deps;
    const action: CompiledAction = {
      name: "@timer",
      handler: callback as CompiledAction["handler"],
      readOnly: false,
      interleave: false,
      idempotent: false,
      args: undefined,
    };
    const entry: TimerEntry = {
      handle: undefined,
      cancelled: false,
      cancel: () => {
        entry.cancelled = true;
        entry.handle?.cancel();
        this.entries.delete(entry);
      },
    };
    const fire = () => {
      entry.handle = undefined;
      if (entry.cancelled || activation.status !== ACTIVE) return;
      if (options.periodMs !== undefined) entry.handle = clock.setTimer(options.periodMs, fire);
      else this.entries.delete(entry);
      const envelope = new Envelope(activation.target, action, [], [], undefined, (error) =>
        logger.warn("actor timer failed", {
          address: activation.target.address,
          error: errorMessage(error),
        }),
      );
      envelope.keepAlive = options.keepAlive === true;
      activation.submit(envelope);
    };
    entry.handle = clock.setTimer(options.afterMs, fire);
    this.entries.add(entry);
    return entry;
  }

  /** Stops every timer (the activation ends). */
  cancelAll(): void {
    for (const timer of this.entries) {
      timer.cancelled = true;
      timer.handle?.cancel();
    }
    this.entries.clear();
  }
}

function validateTimerOptions(options: TimerOptions): void {
  if (typeof options !== "object" || options === null) {
    throw invalidArgument("setTimer.options", "expected an object");
  }
  if (!Number.isInteger(options.afterMs) || options.afterMs < 0) {
    throw invalidArgument(
      "setTimer.afterMs",
      `expected a non-negative integer, got ${String(options.afterMs)}`,
    );
  }
  if (
    options.periodMs !== undefined &&
    (!Number.isInteger(options.periodMs) || options.periodMs < 1)
  ) {
    throw invalidArgument(
      "setTimer.periodMs",
      `expected a positive integer, got ${String(options.periodMs)}`,
    );
  }
}
