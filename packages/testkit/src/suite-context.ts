import { randomBytes } from "node:crypto";
import { ManualClock } from "@troupe/core";

/** Per-test context handed to every factory. */
export interface SuiteContext {
  /**
   * Unique per test run and test: [a-z0-9_], at most 40 chars, starts with a letter. Use it for
   * file names, schema/table names, key prefixes, queue names.
   */
  readonly id: string;
  /** A fresh ManualClock per test. Queue factories MUST pass it to the adapter as its `clock`. */
  readonly clock: ManualClock;
}

/** A ManualClock for tests, starting at `start` (ms since the epoch; default 2026-01-01T00:00:00Z). */
export function createTestClock(start?: number): ManualClock {
  return start === undefined ? new ManualClock() : new ManualClock(start);
}

// Several processes (and CI jobs) may share one PostgreSQL, Redis or NATS server, so the run part
// of every id carries time and randomness, not just a counter.
const runId = `t${Date.now().toString(36)}${randomBytes(4).readUInt32BE(0).toString(36).padStart(7, "0").slice(0, 6)}`;
let testCounter = 0;

/** A fresh context: a new id (for example `tmbx3k2a4f9q2z_1b`) and a new clock. */
export function createSuiteContext(): SuiteContext {
  testCounter++;
  return { id: `${runId}_${testCounter.toString(36)}`, clock: createTestClock() };
}

/**
 * Polls `condition` (real time, small intervals) until true or `timeoutMs` passes, then fails
 * naming `what`. For cross-process/eventual delivery only; use a ManualClock for timing rules.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  let interval = 2;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `waitFor: timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}`,
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 2, 25);
  }
}
