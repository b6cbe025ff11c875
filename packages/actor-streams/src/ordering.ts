/**
 * What a subscriber does with an event that arrives live, given the last sequence number it
 * delivered: deliver it (the next one), drop it (already delivered: a duplicate or a replay),
 * or read the missing ones from the Store first (a gap: notifications were lost or overtaken).
 */
export type Arrival = "deliver" | "duplicate" | "gap";

/** Classifies an arriving event `seq` for a subscriber that delivered up to `after`. Pure. */
export function classifyArrival(after: number, seq: number): Arrival {
  if (seq <= after) return "duplicate";
  if (seq === after + 1) return "deliver";
  return "gap";
}

/**
 * Whether a catch-up read found a hole the subscriber cannot fill: it asked for events after
 * `after`, the stream's head is beyond that, and the first event still retained is later than
 * `after + 1` (retention removed the ones in between). Pure.
 */
export function isTrimmed(after: number, firstRetained: number | undefined, head: number): boolean {
  if (head <= after) return false;
  return firstRetained === undefined || firstRetained > after + 1;
}

/** The sequence number of the oldest event count-based retention keeps after appending `seq`. */
export function oldestKept(seq: number, maxEvents: number): number {
  return Math.max(1, seq - maxEvents + 1);
}
