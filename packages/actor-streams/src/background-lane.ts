/**
 * Runs a process's background Store calls for actor delivery (cursor writes and listings of
 * consumers) one at a time, so together they take one Store connection beside the publishes'
 * group commit. An urgent task (a cursor write) starts before the ordinary ones waiting (listings),
 * so a long queue of listings does not hold cursors back.
 */
export class BackgroundLane {
  private busy = false;
  private readonly urgent: (() => void)[] = [];
  private readonly ordinary: (() => void)[] = [];
  private readonly idlers: (() => void)[] = [];

  /** Runs `task` once nothing else in the lane runs; settles as it does. */
  run<T>(task: () => Promise<T>, urgent = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.busy = true;
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            this.busy = false;
            this.next();
          });
      };
      if (this.busy) (urgent ? this.urgent : this.ordinary).push(start);
      else start();
    });
  }

  /** Resolves once no task runs or waits. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  private next(): void {
    const start = this.urgent.shift() ?? this.ordinary.shift();
    if (start !== undefined) {
      start();
      return;
    }
    for (const resolve of this.idlers.splice(0)) resolve();
  }
}
