import type { Logger } from "@troupe/core";

/** The part of `process` {@link handleShutdownSignals} uses (a fake one in tests). */
export interface SignalTarget {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

/** Options of {@link handleShutdownSignals}. */
export interface ShutdownSignalOptions {
  /** Stops gracefully (e.g. `runtime.stop`). */
  readonly stop: () => Promise<void>;
  /** Ends the process; called with 0 after a clean stop, 1 when stopping failed or was forced. */
  readonly exit: (code: number) => void;
  /** Where the shutdown is narrated. */
  readonly logger: Logger;
  /** Default `process`. */
  readonly target?: SignalTarget;
  /** Default SIGINT and SIGTERM. */
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * On the first SIGINT or SIGTERM, stops gracefully and exits 0 (1 if stopping failed); a second
 * signal while stopping exits 1 at once. Returns a function that removes the handlers.
 */
export function handleShutdownSignals(options: ShutdownSignalOptions): () => void {
  const target = options.target ?? process;
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => () => {
    if (stopping) {
      options.logger.warn("second signal: exiting without finishing in-flight work", { signal });
      options.exit(1);
      return;
    }
    stopping = true;
    options.logger.info("signal received: stopping gracefully (send it again to force)", {
      signal,
    });
    // Listen for the second signal before awaiting anything.
    for (const name of signals) target.once(name, second);
    options.stop().then(
      () => options.exit(0),
      (error: unknown) => {
        options.logger.error("shutdown failed", { error });
        options.exit(1);
      },
    );
  };
  const second = () => onSignal("SIGTERM")();
  const first = new Map(signals.map((name) => [name, onSignal(name)] as const));
  for (const [name, listener] of first) target.once(name, listener);
  return () => {
    for (const [name, listener] of first) target.off(name, listener);
    for (const name of signals) target.off(name, second);
  };
}
