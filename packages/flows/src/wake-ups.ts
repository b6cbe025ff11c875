import { randomUUID } from "node:crypto";
import { type Clock, createWakeSignal, type Logger, type PubSub, utf8 } from "@troupe/core";

/**
 * Wake-ups of idle workers: in this process directly, in others through PubSub. A worker notes
 * the {@link WakeUps.generation} before it looks for work and passes it to `idle`, which returns
 * at once if a wake-up came in between — so a wake-up that lands while the worker checks the
 * queue (a claim, `nextAvailableAt`) is never lost.
 */
export interface WakeUps {
  /** Counts wake-ups so far. */
  generation(): number;
  /** Wakes this process's idle workers. */
  wakeLocal(): void;
  /** Wakes idle workers here now, and in other processes (at most one message per turn). */
  wake(): void;
  /**
   * Handles a message on the wake-up channel: wakes this process's idle workers unless the
   * message is this engine's own (already woken locally when it was sent).
   */
  received(message: Uint8Array): void;
  /**
   * Waits up to `delayMs`, or until a wake-up; returns at once when one came after the
   * generation `seen` was noted.
   */
  idle(delayMs: number, seen: number): Promise<void>;
}

/** What wake-ups need. */
export interface WakeUpDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pubsub?: PubSub;
  /** The PubSub channel idle workers listen on. */
  readonly channel: string;
  /** False while no worker runs here (nothing is published then). */
  readonly publishing: () => boolean;
}

/** Creates the wake-ups of one engine. */
export function createWakeUps(deps: WakeUpDeps): WakeUps {
  const { pubsub } = deps;
  // The generation-counted signal from core: a wake between a worker's check and its sleep is
  // never lost.
  const signal = createWakeSignal(deps.clock);
  const wakeLocal = () => signal.wake();
  // At most one wake-up message per event-loop turn: a burst of enqueues (a batch of events,
  // many runs settling at once) must not become a burst of NOTIFYs.
  let publishPending = false;
  // Each message names its sender, so an engine does not wake itself twice for one enqueue.
  const sender = utf8(randomUUID());
  const isOwn = (message: Uint8Array) =>
    message.length === sender.length && message.every((byte, index) => byte === sender[index]);

  return {
    generation: () => signal.generation,
    wakeLocal,
    wake() {
      wakeLocal();
      if (!pubsub || !deps.publishing() || publishPending) return;
      publishPending = true;
      setImmediate(() => {
        publishPending = false;
        pubsub.publish(deps.channel, sender).catch((error: unknown) => {
          deps.logger.warn("flows: wake-up publish failed", { error });
        });
      });
    },
    received(message) {
      if (!isOwn(message)) wakeLocal();
    },
    async idle(delayMs, seen) {
      // Delays come from queue times and may be overdue (negative) or fractional.
      await signal.wait(seen, Math.max(0, Math.ceil(delayMs)));
    },
  };
}
