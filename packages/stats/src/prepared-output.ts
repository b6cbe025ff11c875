// Prepared outputs: deep-frozen subsystem outputs that the fold validates and interns once per
// registry, and the interned row form it copies (or leaves in place) on every resolve.
import type { CapRow } from "./cap-merge.js";
import type { CompiledRegistry } from "./registry.js";
import type { SubsystemOutput } from "./types.js";

/** Marks an output made by {@link prepareOutput}; holds its interned form per registry. */
export const PREPARED: unique symbol = Symbol("troupe.stats.prepared");

/**
 * A prepared output compiled against one registry: its contributions and caps already in the
 * fold's row form, so adding it is a few copies. Packed into one typed array (and one array of
 * pointers) because a game holds many prepared outputs, and each separate array read when one is
 * added is another likely cache miss.
 */
export interface Interned {
  /** Contribution rows: `rowCount` × (cell key, value, priority). */
  readonly rows: Float64Array;
  readonly rowCount: number;
  /** Cap rows: `capCount` × (dimension, layer) in `rows`, after the contribution rows. */
  readonly capCount: number;
  /** The contribution rows' systems, then the cap rows. */
  readonly refs: readonly (string | CapRow)[];
}

/**
 * The interned forms of one prepared output, per registry. Almost always one registry is in use,
 * so the latest is kept in plain fields (a `WeakMap.get` per output per resolve was the top line
 * of a resolve of prepared outputs); forms for other registries (after a reload, or a second
 * engine) live in a `WeakMap` so a dropped registry is not kept alive by its outputs.
 */
export class PreparedForms {
  registry: CompiledRegistry | undefined = undefined;
  interned: Interned | undefined = undefined;
  private others: WeakMap<CompiledRegistry, Interned> | undefined;

  get(registry: CompiledRegistry): Interned | undefined {
    if (this.registry === registry) return this.interned;
    const found = this.others?.get(registry);
    if (found !== undefined) this.remember(registry, found);
    return found;
  }

  set(registry: CompiledRegistry, interned: Interned): void {
    this.remember(registry, interned);
  }

  private remember(registry: CompiledRegistry, interned: Interned): void {
    if (this.registry !== undefined && this.registry !== registry && this.interned !== undefined) {
      this.others ??= new WeakMap();
      this.others.set(this.registry, this.interned);
    }
    this.registry = registry;
    this.interned = interned;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/**
 * Prepares a subsystem output that does not change between resolves (race bases, item stats,
 * a talent tree): a deep-frozen copy that the engine validates and interns once per registry
 * instead of on every resolve. Return the same prepared object from `contribute` for as long
 * as it applies. Invalid outputs are still rejected, on first use, with the usual named error.
 */
export function prepareOutput(output: SubsystemOutput): SubsystemOutput {
  // Outputs are JSON-like data, which a plain recursive copy handles ~5× faster than
  // `structuredClone`; anything else (a Date, a Map, a cycle, a function) goes to
  // `structuredClone` as before, with its semantics and its errors.
  // The plain copy comes back frozen below its root; the root is frozen after the mark is set.
  const plain = copyPlainData(output, 0);
  const copy = (plain === NOT_PLAIN ? structuredClone(output) : plain) as SubsystemOutput;
  Object.defineProperty(copy, PREPARED, { value: new PreparedForms() });
  return plain === NOT_PLAIN ? deepFreeze(copy) : Object.freeze(copy);
}

/** Returned by {@link copyPlainData} for data it does not copy itself. */
const NOT_PLAIN: unique symbol = Symbol("not plain data");

/** Nesting beyond this is left to `structuredClone` (which also handles cycles). */
const MAX_PLAIN_DEPTH = 32;

/**
 * A deep copy of plain data: primitives other than symbols, dense arrays and plain objects
 * (prototype `Object.prototype` or `null`, copied with `Object.prototype`, as `structuredClone`
 * does), own enumerable string keys. Every object below `value` comes back frozen, `value`'s own
 * copy not (the caller marks it first). {@link NOT_PLAIN} for anything else.
 */
function copyPlainData(value: unknown, depth: number): unknown {
  if (typeof value !== "object") {
    return typeof value === "symbol" || typeof value === "function" ? NOT_PLAIN : value;
  }
  if (value === null) return null;
  if (depth > MAX_PLAIN_DEPTH) return NOT_PLAIN;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (prototype !== Array.prototype) return NOT_PLAIN;
    const length = value.length;
    // Holes and extra (non-index) properties: structuredClone keeps them, so let it.
    if (Object.keys(value).length !== length) return NOT_PLAIN;
    const copy: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) {
      const item = copyPlainData(value[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = typeof item === "object" && item !== null ? Object.freeze(item) : item;
    }
    return copy;
  }
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // An own "__proto__" key would set the copy's prototype through assignment.
    if (key === "__proto__") return NOT_PLAIN;
    const item = copyPlainData((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = typeof item === "object" && item !== null ? Object.freeze(item) : item;
  }
  return copy;
}
