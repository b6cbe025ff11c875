import { type Clock, systemClock, type Timer } from "./clock.js";
import { invalidArgument } from "./errors.js";

/** How {@link WakeSignal.wait} ended. */
export type WakeOutcome = "woken" | "timeout";

/**
 * A wake-up signal that cannot be lost between a consumer's check and its sleep. Every `wake`
 * bumps a generation counter; a consumer reads the generation *before* it checks for work and
 * hands it to `wait`, which returns at once when a wake came in between:
 *
 * ```ts
 * const seen = signal.generation;            // 1. register interest
 * const leases = await queue.claim(options); // 2. check (a wake may arrive meanwhile)
 * if (leases.length === 0) await signal.wait(seen, pollMs); // 3. sleep, unless woken since 1
 * ```
 *
 * Waking a list of waiters that only exists while a consumer sleeps loses the wake that lands
 * during step 2, and the consumer then sleeps a whole poll interval with work waiting.
 */
export interface WakeSignal {
  /** How many times `wake` was called. */
  readonly generation: number;
  /** Wakes every waiter, and every later `wait` whose `since` is older than this wake. */
  wake(): void;
  /**
   * Resolves "woken" as soon as the generation differs from `since` (at once when it already
   * does), or "timeout" after `timeoutMs` (a non-negative integer, timed by the clock).
   */
  wait(since: number, timeoutMs: number): Promise<WakeOutcome>;
}

interface Waiter {
  readonly resolve: (outcome: WakeOutcome) => void;
  timer: Timer | undefined;
}

/** A {@link WakeSignal} whose timeouts run on `clock` (a `ManualClock` in tests). */
export function createWakeSignal(clock: Clock = systemClock): WakeSignal {
  let generation = 0;
  const waiters = new Set<Waiter>();
  return {
    get generation() {
      return generation;
    },
    wake() {
      generation++;
      const woken = [...waiters];
      waiters.clear();
      for (const waiter of woken) {
        waiter.timer?.cancel();
        waiter.resolve("woken");
      }
    },
    wait(since, timeoutMs) {
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) {
        return Promise.reject(
          invalidArgument("timeoutMs", `expected a non-negative integer, got ${String(timeoutMs)}`),
        );
      }
      if (since !== generation) return Promise.resolve("woken");
      return new Promise<WakeOutcome>((resolve) => {
        const waiter: Waiter = { resolve, timer: undefined };
        waiters.add(waiter);
        waiter.timer = clock.setTimer(timeoutMs, () => {
          if (waiters.delete(waiter)) resolve("timeout");
        });
      });
    },
  };
}
