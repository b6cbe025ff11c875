// One paced round's samples, in arrays allocated before the round starts (nothing the bench
// keeps per message grows, or is promoted to V8's old space, while the round runs), and their
// summary.

/** The threshold the goal sets for a paced p99, in ms. */
export const GOAL_MS = 20;

/** Per paced message, by its sequence number: times in ms on the shared wall clock. */
export class PacedSamples {
  due: Float64Array;
  sent: Float64Array;
  /** When the publish reached the server's fetch handler (NaN if not seen). */
  readonly atServer: Float64Array;
  /** NaN for a message that did not arrive. */
  delivered: Float64Array;
  received = 0;

  constructor(readonly total: number) {
    this.due = new Float64Array(total);
    this.sent = new Float64Array(total);
    this.atServer = new Float64Array(total).fill(Number.NaN);
    this.delivered = new Float64Array(total).fill(Number.NaN);
  }

  /** Takes the subscriber's times (arrays of `total`, indexed by sequence number). */
  adopt(times: { sent: Float64Array; due: Float64Array; delivered: Float64Array }): void {
    this.sent = times.sent;
    this.due = times.due;
    this.delivered = times.delivered;
    this.received = 0;
    for (const at of times.delivered) if (!Number.isNaN(at)) this.received += 1;
  }

  /** Latency (sent → delivered) and "to server" (sent → server) of the delivered messages. */
  latencies(): { total: Float64Array; toServer: Float64Array } {
    const total = new Float64Array(this.received);
    const toServer = new Float64Array(this.received);
    let n = 0;
    let m = 0;
    for (let seq = 0; seq < this.total; seq += 1) {
      const delivered = this.delivered[seq] as number;
      if (Number.isNaN(delivered)) continue;
      const sent = this.sent[seq] as number;
      total[n++] = delivered - sent;
      const server = this.atServer[seq] as number;
      if (!Number.isNaN(server)) toServer[m++] = server - sent;
    }
    return { total: total.sort(), toServer: toServer.subarray(0, m).sort() };
  }

  /** One line per delivered message: due, sent, at server, delivered (for realtime-trace.mjs). */
  traceLines(): string {
    const lines: string[] = [];
    for (let seq = 0; seq < this.total; seq += 1) {
      if (Number.isNaN(this.delivered[seq] as number)) continue;
      lines.push(
        [this.due[seq], this.sent[seq], this.atServer[seq], this.delivered[seq]]
          .map((ms) => (ms as number).toFixed(3))
          .join(" "),
      );
    }
    return `${lines.join("\n")}\n`;
  }
}

/** The `p`th percentile of ascending `sorted` (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** How many of ascending `sorted` exceed `limit`. */
export function countOver(sorted: ArrayLike<number>, limit: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] as number) > limit) high = mid;
    else low = mid + 1;
  }
  return sorted.length - low;
}
