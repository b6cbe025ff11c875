import { describeValue, statsInputError } from "./errors.js";
import { StatFold } from "./fold.js";
import type { CompiledRegistry } from "./registry.js";
import type { GoldenSnapshot, MergedModifierPack, StatValues, SubsystemOutput } from "./types.js";

const folds = new WeakMap<CompiledRegistry, StatFold>();

/** The fold of `registry`, created once and reused (its scratch space is per registry). */
export function foldFor(registry: CompiledRegistry): StatFold {
  let fold = folds.get(registry);
  if (fold === undefined) {
    fold = new StatFold(registry);
    folds.set(registry, fold);
  }
  return fold;
}

/**
 * Aggregates subsystem outputs without an actor (the golden runner): outputs are ordered by
 * `meta.system` (each system may appear once), validated (R0) and folded (R1–R9).
 */
export function aggregateOutputs(
  registry: CompiledRegistry,
  outputs: readonly SubsystemOutput[],
): StatValues {
  if (!Array.isArray(outputs)) {
    throw statsInputError(
      { field: "(outputs)" },
      `expected an array of subsystem outputs, got ${describeValue(outputs)}`,
    );
  }
  const ordered = outputs.map((output, index) => {
    const system = (output as { meta?: { system?: unknown } } | null)?.meta?.system;
    if (typeof system !== "string" || system === "") {
      throw statsInputError(
        { field: `[${index}].meta.system` },
        `expected a non-empty system id, got ${describeValue(system)}`,
      );
    }
    return { system, output };
  });
  ordered.sort((a, b) => (a.system < b.system ? -1 : a.system > b.system ? 1 : 0));
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i]?.system === ordered[i - 1]?.system) {
      throw statsInputError(
        { system: ordered[i]?.system as string, field: "meta.system" },
        "two outputs claim the same system; merge them or give them distinct ids",
      );
    }
  }
  const fold = foldFor(registry);
  fold.begin();
  for (const { system, output } of ordered) fold.add(output, system);
  return fold.finish();
}

/** Converts values to the golden-vector shape `{ Primary, Derived, CapsUsed, Version }`. */
export function toGoldenSnapshot(values: StatValues, version = 1): GoldenSnapshot {
  const capsUsed: Record<string, { Min: number; Max: number }> = {};
  for (const [dimension, bounds] of Object.entries(values.caps_used)) {
    capsUsed[dimension] = { Min: bounds.min, Max: bounds.max };
  }
  return {
    Primary: { ...values.primary },
    Derived: { ...values.derived },
    CapsUsed: capsUsed,
    Version: version,
  };
}

/** Rule R9: applies a merged context pack to `base`: `base × (1 + ap) × Π multipliers + post`. */
export function applyModifierPack(pack: MergedModifierPack, base: number): number {
  let value = base * (1 + pack.additive_percent);
  for (const factor of pack.multipliers) value *= factor;
  return value + pack.post_add;
}
