import { TroupeError } from "./errors.js";
import {
  distinctLeaseRefs,
  type LeaseBatchResult,
  type LeaseRef,
  type Queue,
  type RetryOptions,
} from "./queue.js";

type Settle = (lease: LeaseRef) => Promise<unknown>;

async function oneByOne(leases: readonly LeaseRef[], settle: Settle): Promise<LeaseBatchResult> {
  const applied: LeaseRef[] = [];
  const lost: LeaseRef[] = [];
  for (const lease of distinctLeaseRefs(leases)) {
    try {
      await settle(lease);
      applied.push(lease);
    } catch (error) {
      if (!TroupeError.isInstance(error, "LEASE_LOST")) throw error;
      lost.push(lease);
    }
  }
  return { applied, lost };
}

/**
 * `ackMany` for a {@link Queue} without a batch path of its own (a test fake, a third-party
 * adapter): acks the leases one `ack` at a time and sorts them into applied and lost. Unlike a
 * native `ackMany` this is one round trip and one commit per lease, and a failure other than
 * LEASE_LOST stops the batch part-way. Every Troupe adapter has a native `ackMany`.
 */
export function ackManyOneByOne(
  queue: Pick<Queue, "ack">,
  leases: readonly LeaseRef[],
): Promise<LeaseBatchResult> {
  return oneByOne(leases, (lease) => queue.ack(lease));
}

/** `retryMany` one `retry` at a time; see {@link ackManyOneByOne}. */
export function retryManyOneByOne(
  queue: Pick<Queue, "retry">,
  leases: readonly LeaseRef[],
  options?: RetryOptions,
): Promise<LeaseBatchResult> {
  return oneByOne(leases, (lease) => queue.retry(lease, options));
}
