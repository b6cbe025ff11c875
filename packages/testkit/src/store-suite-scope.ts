import type { Store, StoreEntry, Version } from "@troupe/core";
import { bytes } from "./assertions.js";
import type { Harness } from "./harness.js";
import type { StoreSuiteOptions } from "./store-suite.js";

/** What every part of the Store suite works with, handed down by `describeStore`. */
export interface StoreSuiteScope {
  /** The store under test (from `create`). */
  readonly open: () => Promise<Store>;
  /** A second handle on the same data, or the same instance when the adapter has no `openPeer`. */
  readonly peer: () => Promise<Store>;
  /** The test's harness (reopen, distinct pairs). */
  readonly harness: () => Harness<Store>;
  /** Per-test timeout in ms. */
  readonly timeout: number;
  /** The suite's options, for capability checks such as `reopen`. */
  readonly options: StoreSuiteOptions;
}

/** UTF-8 byte order, computed independently of core's `compareKeys`. */
export function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The keys of `entries`, in order. */
export const keysOf = (entries: readonly StoreEntry[]): string[] =>
  entries.map((entry) => entry.key);

/** Sets every key in `keys` (value `value of <key>`) in one commit; returns its version. */
export async function setAll(store: Store, keys: readonly string[]): Promise<Version> {
  const { version } = await store.commit(
    keys.map((key) => ({ type: "set", key, value: bytes(`value of ${key}`) })),
  );
  return version;
}
