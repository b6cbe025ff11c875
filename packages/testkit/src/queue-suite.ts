import type { Queue } from "@troupe/core";
import { describe } from "vitest";
import { DEFAULT_TEST_TIMEOUT_MS } from "./assertions.js";
import { useHarness } from "./harness.js";
import { describeQueueBasics } from "./queue-suite-basics.js";
import { describeQueueBatches } from "./queue-suite-batches.js";
import { describeQueueInspection } from "./queue-suite-inspection.js";
import { describeQueueLeases } from "./queue-suite-leases.js";
import { describeQueueModel } from "./queue-suite-model.js";
import { describeQueueOwners } from "./queue-suite-owners.js";
import type { QueueSuiteScope } from "./queue-suite-scope.js";
import type { SuiteContext } from "./suite-context.js";

/** How `describeQueue` opens and removes the queue under test. */
export interface QueueSuiteOptions {
  /** A fresh, empty queue; must use `context.clock` and a queue name derived from `context.id`. */
  create(context: SuiteContext): Queue | Promise<Queue>;
  /** A second claimer on the same queue (another connection, same clock). Default: the same instance. */
  openPeer?(context: SuiteContext): Queue | Promise<Queue>;
  /** For persistent adapters: open the same queue again after it was closed. Turns on durability tests. */
  reopen?(context: SuiteContext): Queue | Promise<Queue>;
  /** Remove what `create` made, after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

/**
 * Registers the Queue conformance suite: enqueue/claim/ack, dedupe, delays, claim order, leases
 * under concurrent claimers, lease expiry and LEASE_LOST, retry, extend, batch acks and retries,
 * remove, inspection, partitions, validation, closing, lease owners (`releaseOwner`) and (with
 * `reopen`) durability. Time moves
 * only through `context.clock`, so nothing sleeps. Call it at the top level of a vitest test file.
 */
export function describeQueue(adapterName: string, options: QueueSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Queue conformance`, () => {
    const harness = useHarness<Queue>(options, timeout);
    const scope: QueueSuiteScope = {
      open: () => harness().main(),
      peer: () => harness().peer(),
      clock: () => harness().context.clock,
      harness,
      timeout,
      options,
    };
    describeQueueBasics(scope);
    describeQueueLeases(scope);
    describeQueueBatches(scope);
    describeQueueInspection(scope);
    describeQueueModel(scope);
    describeQueueOwners(scope);
  });
}
