// When reminders fire and when the reminder queue is looked at again: pure arithmetic on ms
// since the epoch, so the rules are tested without a Queue or a Clock.

/** The longest pause between retries of a failed firing. */
export const MAX_RETRY_DELAY_MS = 60_000;
/** The pause before the first retry of a failed firing; it doubles per attempt. */
export const FIRST_RETRY_DELAY_MS = 1000;

/** When a schedule first fires: `at` itself, or `afterMs` from `now`. */
export function firstDueAt(
  schedule: { readonly at: number } | { readonly afterMs: number },
  now: number,
): number {
  return "at" in schedule ? schedule.at : now + schedule.afterMs;
}

/**
 * When the queue is next looked at after a poll: at the next item's time (`next`, or now when it
 * is overdue), but never later than `pollMs` from now, so items added by other nodes — whose
 * wakes this node does not hear — are found within `pollMs`.
 */
export function nextPollAt(next: number | undefined, now: number, pollMs: number): number {
  return next === undefined ? now + pollMs : Math.min(Math.max(next, now), now + pollMs);
}

/** When a firing that failed on its `attempt`-th claim is tried again: 1 s doubling to 60 s. */
export function retryAt(now: number, attempt: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 6);
  return now + Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** exponent);
}

/**
 * When a periodic reminder due at `dueAt` fires next, after a firing that finished at `now`: the
 * first period boundary after `now`, so a late or slow firing skips the periods it missed instead
 * of firing once per missed period.
 */
export function nextPeriodicDueAt(dueAt: number, now: number, periodMs: number): number {
  const periods = Math.floor((now - dueAt) / periodMs) + 1;
  return dueAt + periods * periodMs;
}
