import type { StoreEntry } from "@troupe/core";
import type { CommitBatcher } from "./commit-batcher.js";
import type { FlowEvent } from "./event.js";
import { keyHash } from "./flow-control/parse-option.js";
import type { ReadBatcher } from "./read-batcher.js";

/**
 * Waits indexed by match key. A wait (or cancelOn rule) whose condition compares a field of the
 * awaited event with a field of the run's trigger — `event.data.userId == async.data.userId`, the
 * `match` shorthand, or such a comparison joined with others by `&&` — is stored under the
 * trigger's value: `<prefix>wk/<event name>/<async path>/<value hash>/<run id>/<slot>`. An
 * incoming event reads only the waits filed under its own values for the paths in use (listed
 * under `<prefix>wp/<event name>/`), plus the waits that could not be keyed, which stay under
 * `<prefix>w/<event name>/` and are scanned as before. Matching still evaluates the whole
 * condition, so the index only narrows the candidates.
 */

/** The comparison a wait is filed under: the awaited event's field and the value it must have. */
export interface WaitMatchKey {
  /** Dotted path into the awaited event (`async`), e.g. `data.userId`. */
  readonly path: string;
  /** The trigger's value that path must equal. */
  readonly value: string | number | boolean;
}

const PATH = "[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*";
const EQUALITY = new RegExp(
  `^\\s*(event|async)\\.(${PATH})\\s*==\\s*(event|async)\\.(${PATH})\\s*$`,
);

function fieldAt(source: unknown, path: string): unknown {
  let value = source;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function keyable(value: unknown): value is string | number | boolean {
  return (
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

/**
 * The key a wait with `condition` and trigger `trigger` is filed under, or undefined when the
 * condition has no top-level `event.x == async.y` comparison (or the trigger has no plain value
 * there). Conservative: a condition with `||`, `!`, parentheses or string literals is not split.
 */
export function waitMatchKey(
  condition: string | undefined,
  trigger: FlowEvent | undefined,
): WaitMatchKey | undefined {
  if (condition === undefined || trigger === undefined) return undefined;
  if (/\|\||[()!'"`]/.test(condition)) return undefined;
  for (const conjunct of condition.split("&&")) {
    const found = EQUALITY.exec(conjunct);
    if (!found) continue;
    const [, left, leftPath, right, rightPath] = found;
    if (left === right || leftPath === undefined || rightPath === undefined) continue;
    const eventPath = left === "event" ? leftPath : rightPath;
    const asyncPath = left === "async" ? leftPath : rightPath;
    const value = fieldAt(trigger, eventPath);
    if (keyable(value)) return { path: asyncPath, value };
  }
  return undefined;
}

/** A value's hash in keys: typed, so `"1"` and `1` (unequal in CEL) are filed apart. */
const valueHash = (value: string | number | boolean) => keyHash(`${typeof value}:${String(value)}`);

/** The keys of the wait index under an engine prefix. */
export interface WaitIndexKeys {
  /** Where a keyed wait lives. */
  keyed(eventName: string, match: WaitMatchKey, runId: string, slot: string): string;
  /** The waits on `eventName` filed under `path` = `value`. */
  keyedPrefix(eventName: string, path: string, value: string | number | boolean): string;
  /** The marker saying some wait on `eventName` is filed by `path`. */
  path(eventName: string, path: string): string;
  /** The markers of `eventName`. */
  paths(eventName: string): string;
  /** The prefix of every keyed wait (to recognise them in a commit). */
  readonly keyedBase: string;
}

/** The wait index keys under `prefix`. */
export function waitIndexKeys(prefix: string): WaitIndexKeys {
  const name = (value: string) => encodeURIComponent(value);
  const keyedBase = `${prefix}wk/`;
  const keyedPrefix = (eventName: string, path: string, value: string | number | boolean) =>
    `${keyedBase}${name(eventName)}/${path}/${valueHash(value)}/`;
  return {
    keyedBase,
    keyedPrefix,
    keyed: (eventName, match, runId, slot) =>
      `${keyedPrefix(eventName, match.path, match.value)}${runId}/${slot}`,
    path: (eventName, path) => `${prefix}wp/${name(eventName)}/${path}`,
    paths: (eventName) => `${prefix}wp/${name(eventName)}/`,
  };
}

/**
 * Where a wait on `eventName` is stored: filed by match key when its condition allows, else
 * `unkeyed` (the per-name key the engine always used).
 */
export function waitKeyFor(
  index: WaitIndexKeys,
  registration: {
    readonly eventName: string;
    readonly runId: string;
    readonly slot: string;
    readonly condition: string | undefined;
    readonly trigger: FlowEvent | undefined;
  },
  unkeyed: string,
): string {
  const match = waitMatchKey(registration.condition, registration.trigger);
  return match === undefined
    ? unkeyed
    : index.keyed(registration.eventName, match, registration.runId, registration.slot);
}

/**
 * The waits `events` (all named `eventName`) may match: those filed under the events' values for
 * each path in use, and the unkeyed ones under `unkeyedPrefix`. Each entry appears once.
 */
export async function candidateWaits(
  store: Pick<ReadBatcher, "list" | "listMany">,
  index: WaitIndexKeys,
  eventName: string,
  events: readonly FlowEvent[],
  unkeyedPrefix: string,
): Promise<StoreEntry[]> {
  // The markers and the unkeyed waits in one read (one statement where the Store lists several
  // ranges at once): no round trip more than the old scan.
  const [markers = [], unkeyed = []] = await store.listMany([
    { prefix: index.paths(eventName) },
    { prefix: unkeyedPrefix },
  ]);
  const prefixes = new Set<string>();
  for (const marker of markers) {
    const path = marker.key.slice(index.paths(eventName).length);
    for (const event of events) {
      const value = fieldAt(event, path);
      if (keyable(value)) prefixes.add(index.keyedPrefix(eventName, path, value));
    }
  }
  const keyed = await Promise.all([...prefixes].map((prefix) => store.list({ prefix })));
  const found = new Map<string, StoreEntry>();
  for (const entry of [...keyed.flat(), ...unkeyed]) found.set(entry.key, entry);
  return [...found.values()];
}

/**
 * A commit batcher that adds the path marker of every keyed wait a commit stores, once per
 * process and path: markers are never deleted, so one written is there for good, and it shares
 * the wait's commit, so no wait is ever filed under a path that deliveries do not look at.
 */
export function withWaitPathMarkers(batcher: CommitBatcher, prefix: string): CommitBatcher {
  const index = waitIndexKeys(prefix);
  const written = new Set<string>();
  const MAX_REMEMBERED = 10_000;
  return {
    pairsQueue: batcher.pairsQueue,
    async commit(ops, items) {
      const markers: string[] = [];
      for (const op of ops) {
        if (op.type !== "set" || !op.key.startsWith(index.keyedBase)) continue;
        // <keyedBase><name>/<path>/<hash>/<run>/<slot>
        const [name, path] = op.key.slice(index.keyedBase.length).split("/");
        if (name === undefined || path === undefined) continue;
        const marker = `${prefix}wp/${name}/${path}`;
        if (written.has(marker) || markers.includes(marker)) continue;
        markers.push(marker);
      }
      if (markers.length === 0) return batcher.commit(ops, items);
      const value = new Uint8Array([0x7b, 0x7d]);
      const result = await batcher.commit(
        [...ops, ...markers.map((key) => ({ type: "set", key, value }) as const)],
        items,
      );
      if (written.size > MAX_REMEMBERED) written.clear();
      for (const marker of markers) written.add(marker);
      return result;
    },
  };
}
