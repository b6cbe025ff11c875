import { type LeaseRef, leaseLost, type Queue } from "@troupe/core";

interface PendingAck {
  readonly lease: LeaseRef;
  resolve(): void;
  reject(error: unknown): void;
}

/** Acknowledges claimed items, merging the acks that wait at the same time into one call. */
export interface AckBatcher {
  /**
   * Same contract as `Queue.ack` for the caller: resolves once the item is acknowledged, fails
   * with `LEASE_LOST` when the lease was no longer held.
   */
  ack(lease: LeaseRef): Promise<void>;
}

/**
 * Group acknowledgement: acks requested while another is in flight (or within the same
 * event-loop turn) are sent as ONE `Queue.ackMany` (one round trip, one commit); a single ack
 * goes out as `Queue.ack`. Each caller sees the outcome its own ack would have had: a lease
 * reported lost fails with `LEASE_LOST`, and when the batch call itself fails every ack of the
 * batch is retried on its own.
 */
export function createAckBatcher(queue: Queue, maxLeases = 500): AckBatcher {
  const waiting: PendingAck[] = [];
  let running = false;

  const ackAlone = async (pending: PendingAck) => {
    try {
      await queue.ack(pending.lease);
      pending.resolve();
    } catch (error) {
      pending.reject(error);
    }
  };

  const ackTogether = async (batch: readonly PendingAck[]) => {
    const [only] = batch;
    if (batch.length === 1 && only) return ackAlone(only);
    let lost: ReadonlySet<string>;
    try {
      const result = await queue.ackMany(batch.map((pending) => pending.lease));
      lost = new Set(result.lost.map((ref) => JSON.stringify([ref.id, ref.leaseId])));
    } catch {
      for (const pending of batch) await ackAlone(pending);
      return;
    }
    for (const pending of batch) {
      const { id, leaseId } = pending.lease;
      if (!lost.has(JSON.stringify([id, leaseId]))) pending.resolve();
      else pending.reject(leaseLost(queue.queueName, id));
    }
  };

  const drain = async () => {
    while (waiting.length > 0) {
      const batch = waiting.splice(0, maxLeases);
      await ackTogether(batch);
    }
    running = false;
  };

  return {
    ack(lease) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ lease: { id: lease.id, leaseId: lease.leaseId }, resolve, reject });
        if (running) return;
        running = true;
        // Let the other acks of this event-loop turn join the first batch.
        setImmediate(() => {
          void drain();
        });
      });
    },
  };
}
