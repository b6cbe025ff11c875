interface QuietWaiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
}

/**
 * Callers waiting for an activation to reach a condition (quiet, idle, writes settled). The
 * activation re-checks them after every turn and write; none are kept while nobody waits.
 */
export class ActivationWaiters {
  private waiters: QuietWaiter[] | undefined = undefined;

  /** Resolves once `check` holds (checked now, then on every `notify`). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.waiters === undefined) this.waiters = [];
      this.waiters.push({ check, resolve });
    });
  }

  /** Whether anyone waits (the hot path skips `notify` otherwise). */
  get waiting(): boolean {
    return this.waiters !== undefined;
  }

  /** Resolves the waiters whose condition now holds. */
  notify(): void {
    const waiters = this.waiters;
    if (waiters === undefined) return;
    const remaining = waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
    this.waiters = remaining.length > 0 ? remaining : undefined;
  }
}
