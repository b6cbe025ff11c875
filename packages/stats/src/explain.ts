import { compareCaps, compareContributions } from "./order.js";
import type { CompiledRegistry, DimensionInfo } from "./registry.js";
import type {
  AcrossPolicy,
  CapContribution,
  Contribution,
  MergeOperator,
  MergeRule,
  SubsystemOutput,
} from "./types.js";

/** What decided one bound of a layer (rule R4). */
export interface BoundSource {
  /**
   * `OVERRIDE`, `BASELINE+ADDITIVE`, `HARD_MAX` or `HARD_MIN`: caps of that layer;
   * `clamp_default`: the merge rule; `none`: unbounded on that side; `max`: the min side was
   * lowered to the max side because Min_L > Max_L.
   */
  readonly kind:
    | "OVERRIDE"
    | "BASELINE+ADDITIVE"
    | "HARD_MAX"
    | "HARD_MIN"
    | "clamp_default"
    | "none"
    | "max";
  /** The caps behind it (one for OVERRIDE and HARD_*, all summed ones for BASELINE+ADDITIVE). */
  readonly caps: readonly CapContribution[];
}

/** One layer's caps for the dimension and the bounds they produce (rule R4). */
export interface LayerExplanation {
  /** The layer name. */
  readonly layer: string;
  /** Whether the layer holds a cap other than SOFT_MAX for the dimension (only present layers count). */
  readonly present: boolean;
  /** The layer's caps in R1 order. */
  readonly caps: readonly CapContribution[];
  /** Min_L. */
  readonly min: number;
  /** Max_L. */
  readonly max: number;
  /** What decided Min_L. */
  readonly minFrom: BoundSource;
  /** What decided Max_L. */
  readonly maxFrom: BoundSource;
  /** Whether the max side holds an OVERRIDE cap (matters for PRIORITIZED_OVERRIDE). */
  readonly overridesMax: boolean;
  /** Whether the min side holds an OVERRIDE cap. */
  readonly overridesMin: boolean;
}

/** Where an across-layer bound came from: a layer name, `clamp_default`, or `max` (conflict fix). */
export type AcrossSource = string;

/** The across-layer result (rule R5). */
export interface AcrossExplanation {
  /** The policy used. */
  readonly policy: AcrossPolicy;
  /** Final Min. */
  readonly min: number;
  /** Final Max. */
  readonly max: number;
  /** The layer (or `clamp_default`, or `max` when Min was lowered to Max) that set Min. */
  readonly minFrom: AcrossSource;
  /** The layer (or `clamp_default`) that set Max. */
  readonly maxFrom: AcrossSource;
}

/** One section (primary or derived) of the dimension (rules R2, R3, R6, R7). */
export interface SectionExplanation {
  /** The contributions in R1 order. */
  readonly contributions: readonly Contribution[];
  /** `pipeline` (R2) or `operator` (R3). */
  readonly mode: "pipeline" | "operator";
  /** The operator in operator mode. */
  readonly operator?: MergeOperator;
  /** F = Σ FLAT. */
  readonly flat: number;
  /** M = Π (1 + MULT). */
  readonly mult: number;
  /** P = Σ POST_ADD. */
  readonly post: number;
  /** The winning OVERRIDE, if any. */
  readonly override?: Contribution;
  /** The candidate before the soft knee and bounds. */
  readonly candidate: number;
  /** The candidate after the soft knee. */
  readonly softened: number;
  /** The final value. */
  readonly value: number;
  /** Which bound clamped the value, if one did. */
  readonly clampedBy: "min" | "max" | "none";
}

/** The soft knee applied to the dimension (rule R7). */
export interface SoftKneeExplanation {
  /** k: the smallest SOFT_MAX value. */
  readonly knee: number;
  /** ρ. */
  readonly ratio: number;
  /** The SOFT_MAX cap that set k. */
  readonly cap: CapContribution;
}

/** Why a dimension has the value it has (rule R12). */
export interface Explanation {
  /** The dimension explained. */
  readonly dimension: string;
  /** The merge rule used. */
  readonly rule: MergeRule;
  /** Whether the rule came from the combiner registry (false: the default rule). */
  readonly configured: boolean;
  /** The primary section, when the dimension has primary contributions. */
  readonly primary?: SectionExplanation;
  /** The derived section, when the dimension has derived contributions. */
  readonly derived?: SectionExplanation;
  /** Every configured layer, in order. */
  readonly layers: readonly LayerExplanation[];
  /** The across-layer bounds. */
  readonly across: AcrossExplanation;
  /** The soft knee, when a SOFT_MAX cap exists. */
  readonly soft?: SoftKneeExplanation;
}

const NONE: BoundSource = { kind: "none", caps: [] };
const CLAMP: BoundSource = { kind: "clamp_default", caps: [] };

function explainLayer(
  layer: string,
  caps: CapContribution[],
  info: DimensionInfo,
): LayerExplanation {
  caps.sort(compareCaps);
  const side = (kind: "max" | "min") => caps.filter((cap) => cap.kind === kind);
  const sums = (kind: "max" | "min") => {
    const baseline = side(kind).filter((cap) => cap.mode === "BASELINE");
    const additive = side(kind).filter((cap) => cap.mode === "ADDITIVE");
    let b = 0;
    for (const cap of baseline) b += cap.value;
    let a = 0;
    for (const cap of additive) a += cap.value;
    return { value: b + a, caps: [...baseline, ...additive] };
  };
  const overrideOf = (kind: "max" | "min") => side(kind).find((cap) => cap.mode === "OVERRIDE");
  const present = caps.some((cap) => cap.mode !== "SOFT_MAX");

  // Max side: candidate, then HARD_MAX, then clamp_default; the first strictly smaller one wins.
  const overrideMax = overrideOf("max");
  const sumMax = sums("max");
  let max = Number.POSITIVE_INFINITY;
  let maxFrom: BoundSource = NONE;
  if (overrideMax) {
    max = overrideMax.value;
    maxFrom = { kind: "OVERRIDE", caps: [overrideMax] };
  } else if (sumMax.caps.length > 0) {
    max = sumMax.value;
    maxFrom = { kind: "BASELINE+ADDITIVE", caps: sumMax.caps };
  }
  for (const cap of caps) {
    if (cap.mode === "HARD_MAX" && cap.value < max) {
      max = cap.value;
      maxFrom = { kind: "HARD_MAX", caps: [cap] };
    }
  }
  if (info.clampMax < max) {
    max = info.clampMax;
    maxFrom = CLAMP;
  }

  const overrideMin = overrideOf("min");
  const sumMin = sums("min");
  let min = Number.NEGATIVE_INFINITY;
  let minFrom: BoundSource = NONE;
  if (overrideMin) {
    min = overrideMin.value;
    minFrom = { kind: "OVERRIDE", caps: [overrideMin] };
  } else if (sumMin.caps.length > 0) {
    min = sumMin.value;
    minFrom = { kind: "BASELINE+ADDITIVE", caps: sumMin.caps };
  }
  for (const cap of caps) {
    if (cap.mode === "HARD_MIN" && cap.value > min) {
      min = cap.value;
      minFrom = { kind: "HARD_MIN", caps: [cap] };
    }
  }
  if (info.clampMin > min) {
    min = info.clampMin;
    minFrom = CLAMP;
  }
  if (min > max) {
    min = max;
    minFrom = { kind: "max", caps: [] };
  }
  return {
    layer,
    present,
    caps,
    min,
    max,
    minFrom,
    maxFrom,
    overridesMax: overrideMax !== undefined,
    overridesMin: overrideMin !== undefined,
  };
}

function explainAcross(
  layers: readonly LayerExplanation[],
  info: DimensionInfo,
  policy: AcrossPolicy,
): AcrossExplanation {
  const present = layers.filter((layer) => layer.present);
  const prioritized = policy === "PRIORITIZED_OVERRIDE";
  let max = Number.POSITIVE_INFINITY;
  let maxFrom: AcrossSource = "none";
  const overrideMaxLayer = prioritized ? present.find((layer) => layer.overridesMax) : undefined;
  if (overrideMaxLayer) {
    max = overrideMaxLayer.max;
    maxFrom = overrideMaxLayer.layer;
  } else {
    for (const layer of present) {
      if (layer.max < max) {
        max = layer.max;
        maxFrom = layer.layer;
      }
    }
  }
  let min = Number.NEGATIVE_INFINITY;
  let minFrom: AcrossSource = "none";
  const overrideMinLayer = prioritized ? present.find((layer) => layer.overridesMin) : undefined;
  if (overrideMinLayer) {
    min = overrideMinLayer.min;
    minFrom = overrideMinLayer.layer;
  } else {
    for (const layer of present) {
      if (layer.min > min) {
        min = layer.min;
        minFrom = layer.layer;
      }
    }
  }
  // Ties go to clamp_default: a bound every layer merely inherited from it is not the layer's doing.
  if (info.clampMin >= min) {
    min = info.clampMin;
    minFrom = "clamp_default";
  }
  if (info.clampMax <= max) {
    max = info.clampMax;
    maxFrom = "clamp_default";
  }
  if (min > max) {
    min = max;
    minFrom = "max";
  }
  return { policy, min, max, minFrom, maxFrom };
}

function explainSection(
  contributions: Contribution[],
  info: DimensionInfo,
  knee: number,
  min: number,
  max: number,
): SectionExplanation {
  contributions.sort(compareContributions);
  let flat = 0;
  let mult = 1;
  let post = 0;
  for (const item of contributions) {
    if (item.bucket === "FLAT") flat += item.value;
    else if (item.bucket === "MULT") mult *= 1 + item.value;
    else if (item.bucket === "POST_ADD") post += item.value;
  }
  const override = contributions.find((item) => item.bucket === "OVERRIDE");
  let candidate: number;
  if (override) candidate = override.value;
  else if (info.usePipeline) candidate = flat * mult + post;
  else {
    const values = contributions
      .filter((item) => item.bucket !== "OVERRIDE")
      .map((item) => item.value);
    candidate = values[0] as number;
    for (const value of values.slice(1)) {
      if (info.operator === 0) candidate += value;
      else if (info.operator === 1) candidate = Math.max(candidate, value);
      else candidate = Math.min(candidate, value);
    }
  }
  let softened = candidate;
  if (softened > knee) {
    softened = info.softRatio === 0 ? knee : knee + (softened - knee) * info.softRatio;
  }
  const value = Math.min(Math.max(softened, min), max);
  const operator: MergeOperator = info.operator === 0 ? "SUM" : info.operator === 1 ? "MAX" : "MIN";
  return {
    contributions,
    mode: info.usePipeline ? "pipeline" : "operator",
    ...(info.usePipeline ? {} : { operator }),
    flat,
    mult,
    post,
    ...(override ? { override } : {}),
    candidate,
    softened,
    value,
    clampedBy: softened < min ? "min" : softened > max ? "max" : "none",
  };
}

/**
 * Explains one dimension from already validated subsystem outputs (rule R12). The arithmetic
 * follows the fold step for step, so the numbers agree with `resolve` bit for bit.
 */
export function explainOutputs(
  registry: CompiledRegistry,
  outputs: readonly SubsystemOutput[],
  dimension: string,
): Explanation {
  const info = registry.dimension(dimension) as DimensionInfo;
  const primary: Contribution[] = [];
  const derived: Contribution[] = [];
  const capsByLayer = registry.layerOrder.map(() => [] as CapContribution[]);
  for (const output of outputs) {
    for (const item of output.primary) if (item.dimension === dimension) primary.push(item);
    for (const item of output.derived) if (item.dimension === dimension) derived.push(item);
    for (const cap of output.caps) {
      if (cap.dimension !== dimension) continue;
      capsByLayer[registry.layerIndex.get(cap.scope) as number]?.push(cap);
    }
  }
  const layers = registry.layerOrder.map((layer, index) =>
    explainLayer(layer, capsByLayer[index] as CapContribution[], info),
  );
  const anyCaps = capsByLayer.some((caps) => caps.length > 0);
  const across = anyCaps
    ? explainAcross(layers, info, registry.policy)
    : {
        policy: registry.policy,
        min: info.clampMin,
        max: info.clampMax,
        minFrom: "clamp_default",
        maxFrom: "clamp_default",
      };
  let softCap: CapContribution | undefined;
  for (const caps of capsByLayer) {
    for (const cap of caps) {
      if (cap.mode === "SOFT_MAX" && (softCap === undefined || cap.value < softCap.value))
        softCap = cap;
    }
  }
  const knee = softCap?.value ?? Number.POSITIVE_INFINITY;
  return {
    dimension,
    rule: info.rule,
    configured: info.configured,
    ...(primary.length > 0
      ? { primary: explainSection(primary, info, knee, across.min, across.max) }
      : {}),
    ...(derived.length > 0
      ? { derived: explainSection(derived, info, knee, across.min, across.max) }
      : {}),
    layers,
    across,
    ...(softCap ? { soft: { knee, ratio: info.softRatio, cap: softCap } } : {}),
  };
}

function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+∞";
  if (value === Number.NEGATIVE_INFINITY) return "−∞";
  return String(value);
}

function describeCap(cap: CapContribution): string {
  return `${cap.mode} ${formatNumber(cap.value)} by ${cap.system}${cap.priority ? ` (priority ${cap.priority})` : ""}${cap.realm ? ` realm ${cap.realm}` : ""}`;
}

function describeSource(source: BoundSource): string {
  switch (source.kind) {
    case "none":
      return "unbounded";
    case "clamp_default":
      return "clamp_default";
    case "max":
      return "lowered to Max (Min > Max)";
    case "BASELINE+ADDITIVE":
      return `BASELINE+ADDITIVE of ${source.caps.map((cap) => `${cap.system} ${formatNumber(cap.value)}`).join(" + ")}`;
    default:
      return source.caps[0] ? describeCap(source.caps[0]) : source.kind;
  }
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `  ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd();
  return [line(headers), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)];
}

function formatSection(title: string, section: SectionExplanation): string[] {
  const lines = [`${title}`];
  lines.push(
    ...table(
      ["#", "bucket", "value", "system", "priority"],
      section.contributions.map((item, index) => [
        String(index + 1),
        item.bucket,
        formatNumber(item.value),
        item.system,
        String(item.priority ?? 0),
      ]),
    ),
  );
  if (section.override) {
    lines.push(
      `  OVERRIDE wins: ${formatNumber(section.override.value)} from ${section.override.system} (priority ${section.override.priority ?? 0})`,
    );
  } else if (section.mode === "pipeline") {
    lines.push(
      `  F = ${formatNumber(section.flat)}   M = ×${formatNumber(section.mult)}   P = +${formatNumber(section.post)}   F × M + P = ${formatNumber(section.candidate)}`,
    );
  } else {
    lines.push(`  ${section.operator} of the values = ${formatNumber(section.candidate)}`);
  }
  if (section.softened !== section.candidate) {
    lines.push(
      `  soft knee: ${formatNumber(section.candidate)} → ${formatNumber(section.softened)}`,
    );
  }
  const clamp =
    section.clampedBy === "none"
      ? "within bounds"
      : `clamped by ${section.clampedBy === "min" ? "Min" : "Max"}`;
  lines.push(`  value = ${formatNumber(section.value)} (${clamp})`);
  return lines;
}

/** Renders an explanation as a plain-text report with tables, for designers and the CLI. */
export function formatExplanation(explanation: Explanation): string {
  const rule = explanation.rule;
  const lines = [
    `dimension ${explanation.dimension}: ${rule.use_pipeline ? "pipeline" : `operator ${rule.operator ?? "SUM"}`}, clamp_default [${formatNumber(rule.clamp_default.min)}, ${formatNumber(rule.clamp_default.max)}]${explanation.configured ? "" : " (not in the registry: default rule)"}`,
    "",
  ];
  if (explanation.primary) lines.push(...formatSection("PRIMARY", explanation.primary), "");
  if (explanation.derived) lines.push(...formatSection("DERIVED", explanation.derived), "");
  if (!explanation.primary && !explanation.derived) {
    lines.push("no primary or derived contributions", "");
  }
  lines.push("CAPS BY LAYER");
  lines.push(
    ...table(
      ["layer", "caps", "Min_L", "from", "Max_L", "from"],
      explanation.layers.map((layer) =>
        layer.present
          ? [
              layer.layer,
              String(layer.caps.length),
              formatNumber(layer.min),
              describeSource(layer.minFrom),
              formatNumber(layer.max),
              describeSource(layer.maxFrom),
            ]
          : [layer.layer, String(layer.caps.length), "-", "(no hard caps)", "-", ""],
      ),
    ),
  );
  const across = explanation.across;
  lines.push(
    "",
    `ACROSS LAYERS (${across.policy}): Min ${formatNumber(across.min)} from ${across.minFrom}, Max ${formatNumber(across.max)} from ${across.maxFrom}`,
  );
  if (explanation.soft) {
    lines.push(
      `SOFT KNEE: k = ${formatNumber(explanation.soft.knee)} (${describeCap(explanation.soft.cap)}), ρ = ${explanation.soft.ratio}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
