import type { ManualClock, Queue } from "@troupe/core";
import type { Harness } from "./harness.js";
import type { QueueSuiteOptions } from "./queue-suite.js";

/** What every part of the Queue suite works with, handed down by `describeQueue`. */
export interface QueueSuiteScope {
  /** The queue under test (from `create`). */
  readonly open: () => Promise<Queue>;
  /** A second claimer on the same queue, or the same instance when the adapter has no `openPeer`. */
  readonly peer: () => Promise<Queue>;
  /** The test's ManualClock. */
  readonly clock: () => ManualClock;
  /** The test's harness (reopen, distinct pairs, sibling queues). */
  readonly harness: () => Harness<Queue>;
  /** Per-test timeout in ms. */
  readonly timeout: number;
  /** The suite's options, for capability checks such as `reopen`. */
  readonly options: QueueSuiteOptions;
}

/** The ids of `leases`, in order. */
export const ids = (leases: readonly { id: string }[]): string[] => leases.map((lease) => lease.id);

/** The ids of `leases`, sorted. */
export const sortedIds = (leases: readonly { id: string }[]): string[] => ids(leases).sort();
