import { afterEach, beforeEach } from "vitest";
import { createSuiteContext, type SuiteContext } from "./suite-context.js";

/** Anything a suite opens and must close. */
export interface Closable {
  close(): Promise<void>;
}

/** The factories every suite takes (a subset of each suite's options). */
export interface HandleFactories<T> {
  create(context: SuiteContext): T | Promise<T>;
  openPeer?(context: SuiteContext): T | Promise<T>;
  reopen?(context: SuiteContext): T | Promise<T>;
  destroy?(context: SuiteContext): void | Promise<void>;
}

/**
 * One test's handles: the main one (from `create`), a peer on the same data (from `openPeer`, or
 * the main one again), and reopened ones. Everything opened is closed after the test, then
 * `destroy` runs, even when the test failed.
 */
export class Harness<T extends Closable> {
  private mainHandle: Promise<T> | undefined;
  private peerHandle: Promise<T> | undefined;
  private readonly opened: T[] = [];
  private readonly siblings: SuiteContext[] = [];

  constructor(
    private readonly factories: HandleFactories<T>,
    readonly context: SuiteContext,
  ) {}

  /** True when `openPeer` gives a second handle (rather than the main one again). */
  get hasPeer(): boolean {
    return this.factories.openPeer !== undefined;
  }

  /** The handle `create` made (created on first use). */
  main(): Promise<T> {
    this.mainHandle ??= this.track(() => this.factories.create(this.context));
    return this.mainHandle;
  }

  /** A second handle on the same data, or the main one when the adapter has no `openPeer`. */
  async peer(): Promise<T> {
    const main = await this.main();
    const openPeer = this.factories.openPeer;
    if (!openPeer) return main;
    this.peerHandle ??= this.track(() => openPeer.call(this.factories, this.context));
    return this.peerHandle;
  }

  /**
   * The main and the peer handle, which must be distinct objects: for tests that only make sense
   * with two connections (they are registered only when `openPeer` is given).
   */
  async distinctPair(): Promise<[T, T]> {
    const main = await this.main();
    const peer = await this.peer();
    if (peer === main) {
      throw new Error(
        "openPeer returned the same instance as create; return a second connection, or omit openPeer (tests that need two connections are then not registered)",
      );
    }
    return [main, peer];
  }

  /**
   * A handle made by `create` for a sibling context (same clock, id + `_` + suffix): for adapters
   * that derive names from the id, that is an independent queue/store in the same database.
   * Closed and destroyed with the test.
   */
  async sibling(suffix: string): Promise<T> {
    const context: SuiteContext = { id: `${this.context.id}_${suffix}`, clock: this.context.clock };
    this.siblings.push(context);
    return this.track(() => this.factories.create(context));
  }

  /** Closes every open handle, then opens the data again through `reopen`. */
  async reopen(): Promise<T> {
    const reopen = this.factories.reopen;
    if (!reopen) throw new Error("harness: this adapter has no reopen factory");
    await this.closeAll();
    const handle = await this.track(() => reopen.call(this.factories, this.context));
    this.mainHandle = Promise.resolve(handle);
    this.peerHandle = undefined;
    return handle;
  }

  /** Closes everything opened so far (errors ignored: the handle may already be closed). */
  async closeAll(): Promise<void> {
    const handles = this.opened.splice(0).reverse();
    for (const handle of handles) {
      try {
        await handle.close();
      } catch {
        // Closing twice or after a failed test must not hide the test's own failure.
      }
    }
  }

  /** Closes everything and removes what `create` made. */
  async dispose(): Promise<void> {
    await this.closeAll();
    for (const context of this.siblings.splice(0)) await this.factories.destroy?.(context);
    await this.factories.destroy?.(this.context);
  }

  private async track(open: () => T | Promise<T>): Promise<T> {
    const handle = await open();
    this.opened.push(handle);
    return handle;
  }
}

/**
 * Registers hooks that give each test of the enclosing `describe` a fresh harness, and returns a
 * getter for the current one.
 */
export function useHarness<T extends Closable>(
  factories: HandleFactories<T>,
  timeoutMs: number,
): () => Harness<T> {
  let current: Harness<T> | undefined;
  beforeEach(() => {
    current = new Harness(factories, createSuiteContext());
  }, timeoutMs);
  afterEach(async () => {
    const harness = current;
    current = undefined;
    await harness?.dispose();
  }, timeoutMs);
  return () => {
    if (!current) throw new Error("harness: used outside a test");
    return current;
  };
}
