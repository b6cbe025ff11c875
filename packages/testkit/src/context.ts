import { randomBytes } from "node:crypto";
import { ManualClock, TroupeError } from "@troupe/core";
import { afterEach, beforeEach, expect } from "vitest";

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

/** The start of every suite clock: a fixed instant, so failures reproduce. */
const DEFAULT_START = Date.UTC(2026, 0, 1);

/**
 * A fake clock that moves only when told to (`advance`, `advanceTo`), starting at `start`
 * (ms since the epoch; default 2026-01-01T00:00:00Z).
 */
export function createTestClock(start: number = DEFAULT_START): ManualClock {
  return new ManualClock(start);
}

// Several vitest workers (and several packages) may share one database, so the run prefix mixes
// time and randomness; the counter keeps tests within one worker apart.
const runPrefix = `t${Date.now().toString(36).slice(-6)}${randomBytes(4).toString("hex")}`;
let contextCounter = 0;

/** Makes a fresh context: a unique id and a new ManualClock. */
export function createSuiteContext(): SuiteContext {
  contextCounter += 1;
  return { id: `${runPrefix}_${contextCounter.toString(36)}`, clock: createTestClock() };
}

/**
 * Polls `condition` (real time, small intervals) until true or `timeoutMs` passes, then fails
 * naming `what`. For cross-process/eventual delivery only.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = performance.now() + timeoutMs;
  let interval = 2;
  for (;;) {
    if (await condition()) return;
    if (performance.now() >= deadline) {
      throw new Error(
        `waitFor: ${options.what ?? "condition"} did not happen within ${timeoutMs} ms`,
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, interval));
    // Back off gently: fast for local delivery, no busy loop for slow servers.
    interval = Math.min(interval * 2, 25);
  }
}

/** A closable port instance. */
export interface Closable {
  close(): Promise<void>;
}

/** What every suite's options have in common. */
export interface FactoryOptions<T> {
  create(context: SuiteContext): T | Promise<T>;
  openPeer?(context: SuiteContext): T | Promise<T>;
  reopen?(context: SuiteContext): T | Promise<T>;
  destroy?(context: SuiteContext): void | Promise<void>;
}

/** The instances of one test. */
export interface Harness<T> {
  readonly context: SuiteContext;
  /** The instance `create` made. */
  readonly main: T;
  /** A second handle on the same data (the main instance when the adapter has no `openPeer`). */
  peer(): Promise<T>;
  /** Opens the data again through `reopen` (call only when the suite was given `reopen`). */
  reopen(): Promise<T>;
}

/**
 * Registers beforeEach/afterEach hooks that create a fresh instance per test and close and
 * destroy everything afterwards; returns a getter for the current test's harness.
 */
export function useHarness<T extends Closable>(options: FactoryOptions<T>): () => Harness<T> {
  let current: Harness<T> | undefined;
  let opened: T[] = [];
  let currentContext: SuiteContext | undefined;

  beforeEach(async () => {
    const context = createSuiteContext();
    currentContext = context;
    opened = [];
    const main = await options.create(context);
    opened.push(main);
    let peer: T | undefined;
    current = {
      context,
      main,
      async peer() {
        if (!options.openPeer) return main;
        if (!peer) {
          peer = await options.openPeer(context);
          opened.push(peer);
        }
        return peer;
      },
      async reopen() {
        if (!options.reopen) throw new Error("this adapter has no reopen factory");
        const instance = await options.reopen(context);
        opened.push(instance);
        return instance;
      },
    };
  });

  afterEach(async () => {
    // Close everything even if one close fails; the instances may already be closed by the test.
    const failures: unknown[] = [];
    for (const instance of opened.reverse()) {
      try {
        await instance.close();
      } catch (error) {
        failures.push(error);
      }
    }
    opened = [];
    current = undefined;
    if (currentContext && options.destroy) await options.destroy(currentContext);
    currentContext = undefined;
    if (failures.length > 0) {
      throw new Error(`close() failed during cleanup: ${String(failures[0])}`, {
        cause: failures[0],
      });
    }
  });

  return () => {
    if (!current) throw new Error("no instance: the suite's beforeEach did not run or failed");
    return current;
  };
}

/**
 * Runs `action` and asserts it fails with a TroupeError of `code`; when `field` is given, the
 * error must name it (in `details.field` or the message). Returns the error for more checks.
 */
export async function expectTroupeError(
  action: () => unknown,
  code: string,
  field?: string,
): Promise<TroupeError> {
  let caught: unknown;
  let threw = false;
  try {
    await action();
  } catch (error) {
    caught = error;
    threw = true;
  }
  expect(threw, `expected a TroupeError ${code}, but the call succeeded`).toBe(true);
  if (!TroupeError.isInstance(caught)) {
    throw new Error(`expected a TroupeError ${code}, got: ${String(caught)}`, { cause: caught });
  }
  expect(caught.code, `error code (message: ${caught.message})`).toBe(code);
  if (field !== undefined) {
    const named = caught.details.field === field || caught.message.includes(field);
    expect(named, `error should name the field ${field}; got: ${caught.message}`).toBe(true);
  }
  return caught;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `value` decoded as UTF-8. */
export function text(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : decoder.decode(value);
}

/** `length` pseudo-random bytes from a seeded generator, with runs of zeros mixed in. */
export function randomPayload(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32: deterministic, so a failure reproduces.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = i % 97 < 5 ? 0 : state & 0xff;
  }
  return out;
}

/** A seeded pseudo-random integer source in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

/** Byte-wise equality with a useful failure message. */
export function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string) {
  expect(actual, `${what}: missing`).toBeInstanceOf(Uint8Array);
  if (!actual) return;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const same = Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0;
  if (!same) {
    const index = actual.findIndex((byte, i) => byte !== expected[i]);
    expect.fail(`${what}: bytes differ first at index ${index}`);
  }
}
