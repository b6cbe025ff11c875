/**
 * When a cron tick scheduled for `tick` is due, given the trigger's `jitterMs` and the tick after
 * it: `tick` plus `random() × jitter`, with the jitter capped at half the gap to the next tick so
 * delayed ticks never overtake each other. The tick keeps its scheduled time as its identity (the
 * queue item id and the event's `scheduledAt`); jitter only moves when it fires.
 */
export function jitteredDue(
  tick: number,
  nextTick: number | undefined,
  jitterMs: number | undefined,
  random: () => number,
): number {
  if (!jitterMs || jitterMs <= 0) return tick;
  const window = nextTick === undefined ? jitterMs : Math.min(jitterMs, (nextTick - tick) / 2);
  return tick + Math.floor(Math.max(0, Math.min(random(), 0.999_999)) * window);
}
