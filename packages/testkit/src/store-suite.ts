import type { Store } from "@troupe/core";
import { describe } from "vitest";
import { DEFAULT_TEST_TIMEOUT_MS } from "./assertions.js";
import { useHarness } from "./harness.js";
import { describeStoreBasics } from "./store-suite-basics.js";
import { describeStoreConcurrency } from "./store-suite-concurrency.js";
import { describeStoreListMany } from "./store-suite-list-many.js";
import { describeStoreModel } from "./store-suite-model.js";
import { describeStoreRanges } from "./store-suite-ranges.js";
import type { StoreSuiteScope } from "./store-suite-scope.js";
import type { SuiteContext } from "./suite-context.js";

/** How `describeStore` opens and removes the store under test. */
export interface StoreSuiteOptions {
  /** A fresh, empty store for one test. */
  create(context: SuiteContext): Store | Promise<Store>;
  /**
   * A second handle/connection on the SAME data as `create` made (for cross-connection
   * concurrency and visibility tests). Default: tests use the same instance.
   */
  openPeer?(context: SuiteContext): Store | Promise<Store>;
  /**
   * For persistent adapters: open the same data again after the first store was closed. Presence
   * turns on durability tests.
   */
  reopen?(context: SuiteContext): Store | Promise<Store>;
  /** Remove what `create` made (files, schemas, keys), after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

/**
 * Registers the Store conformance suite: reads, guarded atomic commits, ABA-safe versions,
 * concurrency across connections, ranges in UTF-8 byte order, key and value edge cases, closing
 * and (with `reopen`) durability. Call it at the top level of a vitest test file.
 */
export function describeStore(adapterName: string, options: StoreSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Store conformance`, () => {
    const harness = useHarness<Store>(options, timeout);
    const scope: StoreSuiteScope = {
      open: () => harness().main(),
      peer: () => harness().peer(),
      harness,
      timeout,
      options,
    };
    describeStoreBasics(scope);
    describeStoreConcurrency(scope);
    describeStoreRanges(scope);
    describeStoreListMany(scope);
    describeStoreModel(scope);
  });
}
