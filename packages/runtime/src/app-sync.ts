import type { Clock, Logger } from "@troupe/core";
import { createRoundLoop } from "./round-loop.js";

/** Where one app stands. */
export interface AppSyncState {
  /** The app's serve URL. */
  readonly url: string;
  /** Whether the last attempt synced it. */
  readonly synced: boolean;
  /** Attempts so far. */
  readonly attempts: number;
  /** Why the last attempt failed. */
  readonly lastError?: string;
}

/** Options of {@link createAppSync}. */
export interface AppSyncOptions {
  /** Serve URLs of the SDK apps. */
  readonly urls: readonly string[];
  /** Syncs one app; rejects when the app could not be reached or refused. */
  readonly sync: (url: string) => Promise<unknown>;
  /** Time between attempts for apps not synced yet (and between re-syncs with `keepSyncing`). */
  readonly intervalMs: number;
  /**
   * Re-sync synced apps every `intervalMs` too, so an app restarted with changed functions is
   * picked up (what `troupe dev` does). Default false: an app is synced until it succeeds once.
   */
  readonly keepSyncing?: boolean;
  /** Timers come from here. */
  readonly clock: Clock;
  /** Where transitions (synced, unreachable) are logged. */
  readonly logger: Logger;
}

/** Keeps a set of SDK apps synced: once at start, then retrying those that failed. */
export interface AppSync {
  /** Tries every app once and schedules retries for the failures. */
  start(): Promise<void>;
  /** Cancels pending retries and waits for a running attempt. */
  stop(): Promise<void>;
  /** Where each app stands. */
  states(): AppSyncState[];
}

/**
 * Syncs apps given by URL and retries those that failed every `intervalMs`, so `troupe dev -u`
 * works whichever of the server and the app starts first; with `keepSyncing`, synced apps are
 * synced again each interval, so a restarted app's new functions are picked up. Logs only when
 * an app changes state or its functions change.
 */
export function createAppSync(options: AppSyncOptions): AppSync {
  const states = new Map<string, AppSyncState>(
    options.urls.map((url) => [url, { url, synced: false, attempts: 0 }]),
  );

  const attempt = async (url: string) => {
    const before = states.get(url);
    const attempts = (before?.attempts ?? 0) + 1;
    try {
      const result = await options.sync(url);
      states.set(url, { url, synced: true, attempts });
      const modified = (result as { modified?: unknown } | undefined)?.modified === true;
      // Re-syncs that change nothing stay quiet.
      if (!before?.synced || modified)
        options.logger.info("app synced", { url, attempts, modified });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      states.set(url, { url, synced: false, attempts, lastError: message });
      // The first failure and any change of reason are worth a line; a retry loop is not.
      if (attempts === 1 || before?.synced || before?.lastError !== message) {
        options.logger.warn("app not synced; retrying", {
          url,
          error: message,
          retryInMs: options.intervalMs,
        });
      }
    }
  };

  const round = async () => {
    const pending = [...states.values()].filter(
      (state) => options.keepSyncing === true || !state.synced,
    );
    await Promise.all(pending.map((state) => attempt(state.url)));
  };

  const loop = createRoundLoop({
    round,
    intervalMs: options.intervalMs,
    clock: options.clock,
    again: () =>
      states.size > 0 &&
      (options.keepSyncing === true || ![...states.values()].every((state) => state.synced)),
  });

  return {
    start: () => loop.start(),
    stop: () => loop.stop(),
    states: () => [...states.values()],
  };
}
