import type { Metrics } from "@troupe/core";

/** One consumer's lag on one stream. */
export interface LagEntry {
  /** The stream's namespace. */
  readonly namespace: string;
  /** The stream's key. */
  readonly key: string;
  /** The consumer: an actor consumer's id (`i.<Type>`, `x.<id>`) or a handle's id. */
  readonly consumer: string;
  /** The consumer's label on `/metrics` (the actor type, or the handle's `consumer` option). */
  readonly label: string;
  /** Last published sequence number this process knows of. */
  readonly published: number;
  /** Last sequence number delivered to the consumer. */
  readonly delivered: number;
}

/**
 * Per-consumer lag (last published − last delivered) and the gauge `troupe_stream_lag`, summed
 * per namespace and consumer label, so the series stay few however many streams there are.
 */
export class LagTracker {
  private readonly entries = new Map<string, LagEntry>();
  private readonly sums = new Map<string, number>();
  private readonly gauge;

  constructor(metrics: Metrics) {
    this.gauge = metrics.gauge("troupe_stream_lag", {
      help: "Stream events published but not yet delivered, per namespace and consumer (sum over streams)",
    });
  }

  /** Records a consumer's position. */
  set(entry: LagEntry): void {
    const id = `${entry.namespace}/${entry.key}/${entry.consumer}`;
    const before = this.entries.get(id);
    this.entries.set(id, entry);
    this.adjust(entry, lagOf(entry) - (before === undefined ? 0 : lagOf(before)));
  }

  /** Forgets a consumer (unsubscribed). */
  remove(namespace: string, key: string, consumer: string): void {
    const id = `${namespace}/${key}/${consumer}`;
    const before = this.entries.get(id);
    if (before === undefined) return;
    this.entries.delete(id);
    this.adjust(before, -lagOf(before));
  }

  /** Every consumer this process tracks. */
  snapshot(): LagEntry[] {
    return [...this.entries.values()];
  }

  private adjust(entry: LagEntry, delta: number): void {
    const group = `${entry.namespace}\u0000${entry.label}`;
    const sum = (this.sums.get(group) ?? 0) + delta;
    this.sums.set(group, sum);
    this.gauge.set(sum, { namespace: entry.namespace, consumer: entry.label });
  }
}

function lagOf(entry: LagEntry): number {
  return Math.max(0, entry.published - entry.delivered);
}
