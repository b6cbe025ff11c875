import type { Clock, Timer } from "@troupe/core";

/** Options of {@link createRoundLoop}. */
export interface RoundLoopOptions {
  /** One round of work; the next is scheduled when it settles. */
  readonly round: () => Promise<void>;
  /** Time between the end of one round and the start of the next. */
  readonly intervalMs: number;
  /** Timers come from here. */
  readonly clock: Clock;
  /** Whether another round is due after this one. Default: always. */
  readonly again?: () => boolean;
}

/** A round run now and then every interval until stopped. */
export interface RoundLoop {
  /** Runs one round now (waiting for it), then schedules the next. */
  start(): Promise<void>;
  /** Cancels the next round and waits for a running one. */
  stop(): Promise<void>;
}

/**
 * Runs `round` at start and then `intervalMs` after each round settles, never two at once; the
 * one lifecycle of the app syncer's retries and the app discovery's scans.
 */
export function createRoundLoop(options: RoundLoopOptions): RoundLoop {
  let timer: Timer | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    if (options.again !== undefined && !options.again()) return;
    timer = options.clock.setTimer(options.intervalMs, () => {
      timer = undefined;
      running = options.round().finally(() => {
        running = undefined;
        schedule();
      });
    });
  };

  return {
    async start() {
      stopped = false;
      running = options.round();
      await running;
      running = undefined;
      schedule();
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      timer = undefined;
      await running;
    },
  };
}
