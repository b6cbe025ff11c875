// How long a call waits before it is routed again after its node died under it: an exponential
// window with "equal jitter", so the many callers that lost the same node do not all hit the
// directory (and the node that takes the actors over) in the same instant.

/** The first window, in ms. */
export const FAILOVER_BASE_DELAY_MS = 50;
/** The largest window, in ms. */
export const FAILOVER_MAX_DELAY_MS = 2000;

/**
 * The delay before re-routing a call that already failed over `failovers` times (0 for the
 * first): half of the window `min(2000, 50 · 2^failovers)` ms plus `random()` times the other
 * half. `random` returns a number in [0, 1) (`Math.random`, or a seeded source in tests);
 * anything outside is clamped.
 */
export function failoverDelayMs(failovers: number, random: () => number): number {
  const exponent = Math.min(Math.max(failovers, 0), 16);
  const window = Math.min(FAILOVER_MAX_DELAY_MS, FAILOVER_BASE_DELAY_MS * 2 ** exponent);
  const drawn = random();
  const share = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0.5;
  return Math.round(window / 2 + (window / 2) * share);
}
