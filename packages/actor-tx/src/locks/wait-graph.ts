/**
 * Deadlock detection on the wait-for graph, as pure functions. An edge runs from a waiting owner
 * to each live holder of the lock it waits for; a cycle through a waiter is a deadlock, and the
 * youngest waiter on the cycle (the latest to start waiting; ties by owner id) is the victim.
 * Every node that sees the same records picks the same victim, so only the victim's node acts.
 */

/** A waiting owner, as its wait record says. */
export interface Waiter {
  readonly owner: string;
  readonly lock: string;
  /** When it started waiting. */
  readonly since: number;
  readonly node: string;
}

/** A deadlock: the owners on the cycle in order (each waits for the next) and the locks between. */
export interface Deadlock {
  readonly cycle: readonly { readonly owner: string; readonly waitsFor: string }[];
  readonly victim: Waiter;
}

/**
 * Finds a cycle through `start` in the graph made of `waiters` (at most one wait per owner) and
 * `holders` (lock name → live holder owners). Returns undefined when `start` is not deadlocked.
 */
export function findDeadlock(
  start: string,
  waiters: readonly Waiter[],
  holders: ReadonlyMap<string, readonly string[]>,
): Deadlock | undefined {
  const waits = new Map(waiters.map((waiter) => [waiter.owner, waiter]));
  const origin = waits.get(start);
  if (origin === undefined) return undefined;
  // Depth-first search with an explicit stack; `path` is the current chain of waiters.
  const path: Waiter[] = [];
  const visited = new Set<string>();
  const visit = (waiter: Waiter): Waiter[] | undefined => {
    path.push(waiter);
    visited.add(waiter.owner);
    for (const holder of holders.get(waiter.lock) ?? []) {
      if (holder === waiter.owner) continue;
      if (holder === start) return [...path];
      const next = waits.get(holder);
      if (next === undefined || visited.has(holder)) continue;
      const found = visit(next);
      if (found !== undefined) return found;
    }
    path.pop();
    return undefined;
  };
  const cycle = visit(origin);
  if (cycle === undefined) return undefined;
  const victim = cycle.reduce((youngest, waiter) =>
    waiter.since > youngest.since ||
    (waiter.since === youngest.since && waiter.owner > youngest.owner)
      ? waiter
      : youngest,
  );
  return { cycle: cycle.map((w) => ({ owner: w.owner, waitsFor: w.lock })), victim };
}

/** The cycle as a sentence: `a waits for "x" held by b → b waits for "y" held by a`. */
export function describeCycle(deadlock: Deadlock): string {
  const { cycle } = deadlock;
  return cycle
    .map((step, i) => {
      const next = cycle[(i + 1) % cycle.length]?.owner ?? "?";
      return `${step.owner} waits for ${JSON.stringify(step.waitsFor)} held by ${next}`;
    })
    .join(" → ");
}
