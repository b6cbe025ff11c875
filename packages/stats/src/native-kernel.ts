// The native fold kernel (a measured trial, see the README): loads `build/Release/fold_kernel.node`
// when it was built (`npx node-gyp rebuild` in packages/stats) and hands it the fold's rows; the
// TypeScript fold stays the default and the fallback.
import { createRequire } from "node:module";
import type { CapRow } from "./cap-merge.js";
import type { DimensionInfo } from "./registry.js";

interface NativeFold {
  bind(list: readonly (Float64Array | Int32Array)[]): void;
  fold(count: number, prioritized: boolean): number;
}

let loaded: NativeFold | undefined | null = null;
let enabled = process.env.TROUPE_STATS_KERNEL === "native";

function load(): NativeFold | undefined {
  if (loaded === null) {
    try {
      loaded = createRequire(import.meta.url)("../build/Release/fold_kernel.node") as NativeFold;
    } catch {
      loaded = undefined;
    }
  }
  return loaded;
}

/** Chooses the fold kernel (tests and the bench); false when the native one is not built. */
export function useFoldKernel(kind: "typescript" | "native"): boolean {
  if (kind === "typescript") {
    enabled = false;
    return true;
  }
  enabled = load() !== undefined;
  return enabled;
}

/** The native kernel when it is chosen and built. */
export function nativeKernel(): NativeFold | undefined {
  return enabled ? load() : undefined;
}

let binder: object | undefined;

/** Which fold's arrays the kernel (of this thread) holds. */
export function boundBy(): object | undefined {
  return binder;
}

export function bindBy(fold: object): void {
  binder = fold;
}

/** Ranks of system ids in string order (R1 compares systems by id); per-row identity caches. */
class SystemRanks {
  private readonly ranks = new Map<string, number>();
  version = 0;

  rank(system: string): number {
    let rank = this.ranks.get(system);
    if (rank === undefined) {
      this.ranks.set(system, 0);
      const sorted = [...this.ranks.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      sorted.forEach((name, index) => {
        this.ranks.set(name, index);
      });
      this.version++;
      rank = this.ranks.get(system) as number;
    }
    return rank;
  }
}

const systemRanks = new SystemRanks();

/** The arrays the kernel reads besides the fold's own, refilled per resolve. */
export class NativeInputs {
  rowRanks = new Int32Array(256);
  private rowNames: unknown[] = [];
  private rowVersions = new Int32Array(256);
  capRank = new Int32Array(64);
  capIsMax = new Int32Array(64);
  capValue = new Float64Array(64);
  capPriority = new Float64Array(64);
  capSystemRank = new Int32Array(64);
  sortCaps = new Int32Array(64);
  private capNames: unknown[] = [];
  private capVersions = new Int32Array(64);
  clampMin = new Float64Array(0);
  clampMax = new Float64Array(0);
  usePipeline = new Int32Array(0);
  operator = new Int32Array(0);
  softRatio = new Float64Array(0);
  boundsOut = new Float64Array(64);
  private dimensionCount = -1;
  private infos: readonly DimensionInfo[] | undefined;

  /** Fills the per-row system ranks, the cap rows and the dimension rules; true if any array changed. */
  fill(
    systems: readonly string[],
    rows: number,
    caps: readonly CapRow[],
    capCount: number,
    infos: readonly DimensionInfo[],
    touchedCount: number,
  ): boolean {
    let grown = false;
    if (this.rowRanks.length < systems.length) {
      this.rowRanks = new Int32Array(systems.length);
      this.rowVersions = new Int32Array(systems.length);
      grown = true;
    }
    const version = systemRanks.version;
    for (let row = 0; row < rows; row++) {
      const system = systems[row] as string;
      if (this.rowNames[row] === system && this.rowVersions[row] === version) continue;
      this.rowRanks[row] = systemRanks.rank(system);
      this.rowNames[row] = system;
      this.rowVersions[row] = systemRanks.version;
    }
    if (this.capRank.length < capCount) {
      const size = 2 * capCount;
      this.capRank = new Int32Array(size);
      this.capIsMax = new Int32Array(size);
      this.capValue = new Float64Array(size);
      this.capPriority = new Float64Array(size);
      this.capSystemRank = new Int32Array(size);
      this.sortCaps = new Int32Array(size);
      this.capVersions = new Int32Array(size);
      this.capNames = [];
      grown = true;
    }
    for (let row = 0; row < capCount; row++) {
      const cap = caps[row] as CapRow;
      this.capRank[row] = cap.rank;
      this.capIsMax[row] = cap.isMax ? 1 : 0;
      this.capValue[row] = cap.value;
      this.capPriority[row] = cap.priority;
      if (this.capNames[row] !== cap.system || this.capVersions[row] !== systemRanks.version) {
        this.capSystemRank[row] = systemRanks.rank(cap.system);
        this.capNames[row] = cap.system;
        this.capVersions[row] = systemRanks.version;
      }
    }
    if (this.infos !== infos || this.dimensionCount !== infos.length) {
      const count = infos.length;
      this.clampMin = new Float64Array(count);
      this.clampMax = new Float64Array(count);
      this.usePipeline = new Int32Array(count);
      this.operator = new Int32Array(count);
      this.softRatio = new Float64Array(count);
      infos.forEach((info, index) => {
        this.clampMin[index] = info.clampMin;
        this.clampMax[index] = info.clampMax;
        this.usePipeline[index] = info.usePipeline ? 1 : 0;
        this.operator[index] = info.operator;
        this.softRatio[index] = info.softRatio;
      });
      this.infos = infos;
      this.dimensionCount = count;
      grown = true;
    }
    if (this.boundsOut.length < 2 * touchedCount) {
      this.boundsOut = new Float64Array(4 * touchedCount);
      grown = true;
    }
    return grown;
  }
}
