import { createHash } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { statsInputError } from "./errors.js";
import {
  combinerRegistrySchema,
  layerRegistrySchema,
  parseWithSchema,
  subsystemOutputSchema,
} from "./schemas.js";
import type {
  AcrossPolicy,
  CombinerRegistry,
  LayerRegistry,
  MergeOperator,
  MergeRule,
  SubsystemOutput,
} from "./types.js";

/** The layer registry used when none is given: `[REALM, WORLD, EVENT, TOTAL]`, INTERSECT. */
export const DEFAULT_LAYER_REGISTRY: LayerRegistry = Object.freeze({
  order: Object.freeze(["REALM", "WORLD", "EVENT", "TOTAL"]),
  across_policy: "INTERSECT",
});

/** The merge rule of a dimension missing from the registry (unless strict). */
export const DEFAULT_MERGE_RULE: MergeRule = Object.freeze({
  use_pipeline: true,
  clamp_default: Object.freeze({ min: 0, max: 1e6 }),
});

/**
 * Parses registry text as YAML or JSON (JSON is valid YAML, so YAML parsing covers both; a
 * `.json` file name uses the JSON parser for exact JSON semantics). Syntax errors name the file.
 */
export function parseRegistryText(text: string, file: string): unknown {
  try {
    if (file.toLowerCase().endsWith(".json")) return JSON.parse(text) as unknown;
    return parseYaml(text) as unknown;
  } catch (cause) {
    const error = statsInputError(
      { file, field: "(root)" },
      `not valid ${file.toLowerCase().endsWith(".json") ? "JSON" : "YAML"}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    throw Object.assign(error, { cause });
  }
}

/** Parses and validates a combiner registry from YAML or JSON text; errors name file, dimension and field. */
export function parseCombinerRegistry(
  text: string,
  file = "<combiner registry>",
): CombinerRegistry {
  return parseWithSchema(combinerRegistrySchema, parseRegistryText(text, file), { file });
}

/** Parses and validates a layer registry from YAML or JSON text; errors name file and field. */
export function parseLayerRegistry(text: string, file = "<layer registry>"): LayerRegistry {
  return parseWithSchema(layerRegistrySchema, parseRegistryText(text, file), { file });
}

const subsystemOutputsSchema = z.array(subsystemOutputSchema);

/**
 * Parses an array of subsystem outputs from JSON or YAML text (the golden runner's input) and
 * checks its shape with the zod schemas; errors name the file, subsystem, dimension and field.
 * Layer membership of cap scopes is checked later, against the layer registry in use.
 */
export function parseSubsystemOutputs(
  text: string,
  file = "<subsystem outputs>",
): SubsystemOutput[] {
  return parseWithSchema(subsystemOutputsSchema, parseRegistryText(text, file), { file });
}

/** Operator codes used by the fold: 0 SUM, 1 MAX, 2 MIN. */
export type OperatorCode = 0 | 1 | 2;

const OPERATOR_CODES: Record<MergeOperator, OperatorCode> = { SUM: 0, MAX: 1, MIN: 2 };

/**
 * A dimension with its merge rule unpacked into plain fields, interned once per registry so a
 * resolve looks a name up once and then works on numbers.
 */
export interface DimensionInfo {
  /** The dimension name. */
  readonly name: string;
  /** Dense index within the registry (assigned in interning order). */
  readonly index: number;
  /** The merge rule (the default one for dimensions missing from the registry). */
  readonly rule: MergeRule;
  /** Whether the rule came from the registry (false: the default rule). */
  readonly configured: boolean;
  /** `rule.use_pipeline`. */
  readonly usePipeline: boolean;
  /** `rule.operator` as a code (SUM when absent). */
  readonly operator: OperatorCode;
  /** `rule.clamp_default.min`. */
  readonly clampMin: number;
  /** `rule.clamp_default.max`. */
  readonly clampMax: number;
  /** `rule.soft_ratio ?? 0.5`. */
  readonly softRatio: number;
  /** Position in name order, refreshed when a new dimension is interned. */
  rank: number;
  /** `[clamp_default.min, clamp_default.max]` as a frozen bounds object, shared by every snapshot. */
  readonly defaultBounds: Readonly<{ min: number; max: number }>;
}

/** How many dimensions one compiled registry interns at most (configured plus discovered). */
export const MAX_DIMENSIONS = 4096;

/** Options of {@link compileRegistry}. */
export interface CompileRegistryOptions {
  /** Reject dimensions missing from the combiner registry instead of using the default rule. */
  readonly strict?: boolean;
  /** The rule for dimensions missing from the registry; default {@link DEFAULT_MERGE_RULE}. */
  readonly defaultRule?: MergeRule;
}

/**
 * A combiner and a layer registry, validated and precompiled: dimensions interned to dense
 * indices with their rules unpacked, layers mapped to their position. Unknown dimensions met
 * later are interned on first use (with the default rule) unless `strict`.
 */
export interface CompiledRegistry {
  /** The combiner registry it was compiled from. */
  readonly combiner: CombinerRegistry;
  /** The layer registry it was compiled from. */
  readonly layers: LayerRegistry;
  /** Layer names in order. */
  readonly layerOrder: readonly string[];
  /** Layer name → position in `layerOrder`. */
  readonly layerIndex: ReadonlyMap<string, number>;
  /** The same as `layerIndex`, as a prototype-less object (the fold's faster lookup). */
  readonly layerPosition: Readonly<Record<string, number | undefined>>;
  /** True for PRIORITIZED_OVERRIDE. */
  readonly prioritized: boolean;
  /** The across-layer policy. */
  readonly policy: AcrossPolicy;
  /** Whether unknown dimensions are rejected. */
  readonly strict: boolean;
  /** A hash of both registries' canonical JSON: identifies registry content across processes. */
  readonly fingerprint: string;
  /** Looks a dimension up, interning it with the default rule when unknown (undefined if strict). */
  dimension(name: string): DimensionInfo | undefined;
  /** Every interned dimension, by index. */
  readonly dimensions: readonly DimensionInfo[];
  /** Every interned dimension, in name order. */
  readonly dimensionsByRank: readonly DimensionInfo[];
}

/** Canonical JSON (object keys sorted), so equal registries hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map(
        (key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
      )
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Validates (with the zod schemas) and compiles a combiner registry and an optional layer
 * registry (default {@link DEFAULT_LAYER_REGISTRY}).
 */
export function compileRegistry(
  combiner: CombinerRegistry,
  layers: LayerRegistry = DEFAULT_LAYER_REGISTRY,
  options: CompileRegistryOptions = {},
): CompiledRegistry {
  const validCombiner = parseWithSchema(combinerRegistrySchema, combiner, {
    field: "combiner",
  });
  const validLayers = parseWithSchema(layerRegistrySchema, layers, { field: "layers" });
  const defaultRule = options.defaultRule ?? DEFAULT_MERGE_RULE;
  const strict = options.strict === true;
  // A prototype-less object: V8 looks interned names up in it faster than in a Map (measured),
  // and dimension names (^[a-z][a-z0-9_]*$) cannot collide with anything special.
  const byName: Record<string, DimensionInfo | undefined> = Object.create(null);
  const list: DimensionInfo[] = [];
  const byRank: DimensionInfo[] = [];

  const intern = (name: string, rule: MergeRule, configured: boolean): DimensionInfo => {
    const info: DimensionInfo = {
      name,
      index: list.length,
      rule,
      configured,
      usePipeline: rule.use_pipeline,
      operator: OPERATOR_CODES[rule.operator ?? "SUM"],
      clampMin: rule.clamp_default.min,
      clampMax: rule.clamp_default.max,
      softRatio: rule.soft_ratio ?? 0.5,
      rank: 0,
      defaultBounds: Object.freeze({ min: rule.clamp_default.min, max: rule.clamp_default.max }),
    };
    byName[name] = info;
    list.push(info);
    return info;
  };
  // Name order is needed to emit sorted output maps; it is computed here and on the rare interning
  // of a new dimension, never per resolve.
  const refreshRanks = () => {
    const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sorted.forEach((info, rank) => {
      info.rank = rank;
      byRank[rank] = info;
    });
  };
  for (const name of Object.keys(validCombiner.dimensions).sort()) {
    intern(name, validCombiner.dimensions[name] as MergeRule, true);
  }
  refreshRanks();

  const dimensionPattern = /^[a-z][a-z0-9_]*$/;
  const layerIndex = new Map<string, number>();
  const layerPosition: Record<string, number | undefined> = Object.create(null);
  validLayers.order.forEach((layer, index) => {
    layerIndex.set(layer, index);
    layerPosition[layer] = index;
  });
  const fingerprint = createHash("sha256")
    .update(canonicalJson({ combiner: validCombiner, layers: validLayers, strict, defaultRule }))
    .digest("hex")
    .slice(0, 32);

  return {
    combiner: validCombiner,
    layers: validLayers,
    layerOrder: validLayers.order,
    layerIndex,
    layerPosition,
    prioritized: validLayers.across_policy === "PRIORITIZED_OVERRIDE",
    policy: validLayers.across_policy,
    strict,
    fingerprint,
    dimensions: list,
    dimensionsByRank: byRank,
    dimension(name) {
      const found = byName[name];
      if (found !== undefined) return found;
      if (strict || typeof name !== "string" || !dimensionPattern.test(name)) return undefined;
      // Unknown names are interned for good; a bound keeps hostile input from growing it forever.
      if (list.length >= MAX_DIMENSIONS) return undefined;
      const info = intern(name, defaultRule, false);
      // Insert into name order (binary search, then shift ranks): O(n) per new dimension.
      let low = 0;
      let high = byRank.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if ((byRank[mid] as DimensionInfo).name < name) low = mid + 1;
        else high = mid;
      }
      byRank.splice(low, 0, info);
      for (let rank = low; rank < byRank.length; rank++)
        (byRank[rank] as DimensionInfo).rank = rank;
      return info;
    },
  };
}
