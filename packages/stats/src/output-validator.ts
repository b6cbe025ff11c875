// The slow R0 validator: it runs only after the fold's fast check rejected an output (or a
// writer call), to name the problem with the subsystem, the dimension and the field.

import { describeValue, statsInputError } from "./errors.js";
import type { CompiledRegistry, DimensionInfo } from "./registry.js";
import { bucketCode, isFiniteNumber, isPriority } from "./row-layout.js";
import type { CapContribution, Contribution, SubsystemOutput } from "./types.js";

const DIMENSION_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Names the first problem of an output, as rule R0 describes it; throws it. */
export class OutputValidator {
  private readonly pendingInfos: DimensionInfo[] = [];
  private readonly pendingLayers: number[] = [];
  private pendingCount = 0;

  constructor(private readonly registry: CompiledRegistry) {}

  private dimensionOf(
    value: unknown,
    system: string,
    section: string,
    index: number,
  ): DimensionInfo {
    if (typeof value === "string") {
      const found = this.registry.dimension(value);
      if (found !== undefined) return found;
    }
    // Only the error path builds the field path: the valid path allocates nothing.
    const field = `${section}[${index}].dimension`;
    if (typeof value !== "string") {
      throw statsInputError(
        { system, field },
        `expected a dimension name, got ${describeValue(value)}`,
      );
    }
    const info = this.registry.dimension(value);
    if (info !== undefined) return info;
    if (!DIMENSION_PATTERN.test(value)) {
      throw statsInputError(
        { system, dimension: value, field },
        "expected a dimension name matching ^[a-z][a-z0-9_]*$",
      );
    }
    throw statsInputError(
      { system, dimension: value, field },
      this.registry.strict
        ? "unknown dimension (the combiner registry is strict)"
        : `unknown dimension, and the registry already holds ${this.registry.dimensions.length} dimensions (the limit)`,
    );
  }

  private validateContributions(list: unknown, system: string, section: string): void {
    if (!Array.isArray(list)) {
      throw statsInputError(
        { system, field: section },
        `expected an array, got ${describeValue(list)}`,
      );
    }
    for (let i = 0; i < list.length; i++) this.validateContribution(list[i], system, section, i);
  }

  /** Names the problem of contribution `section[i]`, if it has one. */
  validateContribution(entry: unknown, system: string, section: string, i: number): void {
    const item = entry as Partial<Record<keyof Contribution, unknown>> | null;
    if (typeof item !== "object" || item === null) {
      throw statsInputError(
        { system, field: `${section}[${i}]` },
        "expected a contribution object",
      );
    }
    const info = this.dimensionOf(item.dimension, system, section, i);
    const dimension = info.name;
    const bucket = bucketCode(item.bucket);
    if (bucket < 0) {
      throw statsInputError(
        { system, dimension, field: `${section}[${i}].bucket` },
        `expected FLAT, MULT, POST_ADD or OVERRIDE, got ${describeValue(item.bucket)}`,
      );
    }
    const value = item.value;
    if (!isFiniteNumber(value)) {
      throw statsInputError(
        { system, dimension, field: `${section}[${i}].value` },
        `expected a finite number, got ${describeValue(value)}`,
      );
    }
    if (bucket === 1 && value < -1) {
      throw statsInputError(
        { system, dimension, field: `${section}[${i}].value` },
        `a MULT is a delta and must be ≥ −1, got ${value}`,
      );
    }
    if (typeof item.system !== "string" || item.system === "") {
      throw statsInputError(
        { system, dimension, field: `${section}[${i}].system` },
        `expected a non-empty system id, got ${describeValue(item.system)}`,
      );
    }
    if (!isPriority(item.priority)) {
      throw statsInputError(
        { system, dimension, field: `${section}[${i}].priority` },
        `expected an integer ≥ 0, got ${describeValue(item.priority)}`,
      );
    }
    this.pendingInfos[this.pendingCount++] = info;
  }

  private validateCaps(list: unknown, system: string): void {
    if (!Array.isArray(list)) {
      throw statsInputError(
        { system, field: "caps" },
        `expected an array, got ${describeValue(list)}`,
      );
    }
    for (let i = 0; i < list.length; i++) this.validateCap(list[i], system, i);
  }

  /** Names the problem of cap `caps[i]`, if it has one. */
  validateCap(entry: unknown, system: string, i: number): void {
    const layerPosition = this.registry.layerPosition;
    const cap = entry as Partial<Record<keyof CapContribution, unknown>> | null;
    if (typeof cap !== "object" || cap === null) {
      throw statsInputError({ system, field: `caps[${i}]` }, "expected a cap object");
    }
    const info = this.dimensionOf(cap.dimension, system, "caps", i);
    const dimension = info.name;
    let implied: string | undefined;
    switch (cap.mode) {
      case "BASELINE":
      case "ADDITIVE":
      case "OVERRIDE":
        break;
      case "HARD_MAX":
      case "SOFT_MAX":
        implied = "max";
        break;
      case "HARD_MIN":
        implied = "min";
        break;
      default:
        throw statsInputError(
          { system, dimension, field: `caps[${i}].mode` },
          `expected BASELINE, ADDITIVE, HARD_MAX, HARD_MIN, OVERRIDE or SOFT_MAX, got ${describeValue(cap.mode)}`,
        );
    }
    if (cap.kind !== "max" && cap.kind !== "min") {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].kind` },
        `expected "max" or "min", got ${describeValue(cap.kind)}`,
      );
    }
    if (implied !== undefined && cap.kind !== implied) {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].kind` },
        `mode ${String(cap.mode)} implies kind "${implied}", got "${cap.kind}"`,
      );
    }
    if (!isFiniteNumber(cap.value)) {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].value` },
        `expected a finite number, got ${describeValue(cap.value)}`,
      );
    }
    if (typeof cap.system !== "string" || cap.system === "") {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].system` },
        `expected a non-empty system id, got ${describeValue(cap.system)}`,
      );
    }
    if (!isPriority(cap.priority)) {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].priority` },
        `expected an integer ≥ 0, got ${describeValue(cap.priority)}`,
      );
    }
    const layer = typeof cap.scope === "string" ? layerPosition[cap.scope] : undefined;
    if (layer === undefined) {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].scope` },
        `expected one of the configured layers (${this.registry.layerOrder.join(", ")}), got ${describeValue(cap.scope)}`,
      );
    }
    if (cap.scope === "REALM" && (typeof cap.realm !== "string" || cap.realm === "")) {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].realm` },
        "a REALM cap needs a realm",
      );
    }
    if (cap.realm !== undefined && typeof cap.realm !== "string") {
      throw statsInputError(
        { system, dimension, field: `caps[${i}].realm` },
        `expected a string, got ${describeValue(cap.realm)}`,
      );
    }
    if (cap.tags !== undefined) {
      const tags = cap.tags;
      if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].tags` },
          "expected an array of strings",
        );
      }
    }
    this.pendingInfos[this.pendingCount] = info;
    this.pendingLayers[this.pendingCount++] = layer;
  }

  validateContext(context: unknown, system: string): void {
    if (typeof context !== "object" || context === null || Array.isArray(context)) {
      throw statsInputError(
        { system, field: "context" },
        `expected an object, got ${describeValue(context)}`,
      );
    }
    for (const key of Object.keys(context)) {
      const pack = (context as Record<string, unknown>)[key] as Record<string, unknown> | null;
      const at = `context.${key}`;
      if (typeof pack !== "object" || pack === null || Array.isArray(pack)) {
        throw statsInputError({ system, field: at }, "expected a modifier pack object");
      }
      for (const field of ["additive_percent", "post_add"] as const) {
        const value = pack[field];
        if (value !== undefined && !isFiniteNumber(value)) {
          throw statsInputError(
            { system, field: `${at}.${field}` },
            `expected a finite number, got ${describeValue(value)}`,
          );
        }
      }
      const multipliers = pack.multipliers;
      if (multipliers !== undefined) {
        if (!Array.isArray(multipliers)) {
          throw statsInputError(
            { system, field: `${at}.multipliers` },
            "expected an array of numbers",
          );
        }
        multipliers.forEach((factor: unknown, index) => {
          if (!isFiniteNumber(factor) || factor < 0) {
            throw statsInputError(
              { system, field: `${at}.multipliers[${index}]` },
              `expected a finite multiplier ≥ 0, got ${describeValue(factor)}`,
            );
          }
        });
      }
    }
  }

  validate(output: SubsystemOutput, system: string): void {
    this.pendingCount = 0;
    const meta = output.meta as unknown;
    if (
      typeof meta !== "object" ||
      meta === null ||
      typeof (meta as { system?: unknown }).system !== "string"
    ) {
      throw statsInputError(
        { system, field: "meta.system" },
        "expected a meta object with a system id",
      );
    }
    this.validateContributions(output.primary, system, "primary");
    this.validateContributions(output.derived, system, "derived");
    this.validateCaps(output.caps, system);
    if (output.context !== undefined) this.validateContext(output.context, system);
  }
}
