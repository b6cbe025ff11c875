import type { DimensionInfo } from "./registry.js";

type Build<T> = (values: ArrayLike<T>) => Record<string, T>;

/** How many distinct key sets one cache compiles before it falls back to plain stores. */
const MAX_SHAPES = 256;

let codegen = true;

function compile<T>(names: readonly string[]): Build<T> | undefined {
  if (!codegen) return undefined;
  // Names are validated dimension names (^[a-z][a-z0-9_]*$), quoted again for safety.
  const fields = names.map((name, index) => `${JSON.stringify(name)}: v[${index}]`);
  try {
    return new Function("v", `"use strict"; return { ${fields.join(", ")} };`) as Build<T>;
  } catch {
    // Code generation from strings is disabled (--disallow-code-generation-from-strings).
    codegen = false;
    return undefined;
  }
}

/**
 * Builds output maps (`primary`, `derived`, `caps_used`) with sorted keys fast. Adding 24
 * properties one by one with computed keys sends every store through V8's slow keyed-store path
 * (the profile showed it as the largest cost of a resolve); an object literal with the keys
 * written out is created from a boilerplate in one step. So each distinct key list is compiled
 * once into a literal-returning function, and a resolve with the same keys as the previous one
 * (the usual case: the same subsystems touch the same dimensions) reuses it after comparing
 * the key list by reference.
 */
export class ShapeCache<T> {
  private lastKeys: DimensionInfo[] = [];
  private lastCount = -1;
  private lastBuild: Build<T> | undefined;
  private readonly compiled = new Map<string, Build<T> | undefined>();

  /** An object with keys `infos[0..count)` (in that order) and values from `values`. */
  build(infos: readonly DimensionInfo[], count: number, values: ArrayLike<T>): Record<string, T> {
    let build = this.lastBuild;
    let same = count === this.lastCount;
    if (same) {
      const last = this.lastKeys;
      for (let i = 0; i < count; i++) {
        if (infos[i] !== last[i]) {
          same = false;
          break;
        }
      }
    }
    if (!same) {
      const names: string[] = [];
      for (let i = 0; i < count; i++) names.push((infos[i] as DimensionInfo).name);
      const key = names.join(",");
      if (this.compiled.has(key)) build = this.compiled.get(key);
      else {
        build = this.compiled.size < MAX_SHAPES ? compile<T>(names) : undefined;
        if (this.compiled.size < MAX_SHAPES) this.compiled.set(key, build);
      }
      this.lastKeys = infos.slice(0, count);
      this.lastCount = count;
      this.lastBuild = build;
    }
    if (build !== undefined) return build(values);
    return this.buildSlowly(infos, count, values);
  }

  /** Like {@link ShapeCache.build} with the same keys as the previous call (the caller knows). */
  buildAgain(values: ArrayLike<T>): Record<string, T> {
    const build = this.lastBuild;
    if (build !== undefined) return build(values);
    return this.buildSlowly(this.lastKeys, this.lastCount, values);
  }

  private buildSlowly(infos: readonly DimensionInfo[], count: number, values: ArrayLike<T>) {
    const out: Record<string, T> = {};
    for (let i = 0; i < count; i++) out[(infos[i] as DimensionInfo).name] = values[i] as T;
    return out;
  }
}
