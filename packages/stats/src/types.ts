/** How a contribution combines within a dimension (rule R2). */
export type Bucket = "FLAT" | "MULT" | "POST_ADD" | "OVERRIDE";

/** How a cap contribution combines within a layer (rule R4; SOFT_MAX is rule R7). */
export type CapMode = "BASELINE" | "ADDITIVE" | "HARD_MAX" | "HARD_MIN" | "OVERRIDE" | "SOFT_MAX";

/** Which bound a cap contribution speaks to. */
export type CapKind = "max" | "min";

/** The operator of a dimension aggregated without the pipeline (rule R3). */
export type MergeOperator = "SUM" | "MAX" | "MIN";

/** How caps of several layers combine (rule R5). */
export type AcrossPolicy = "INTERSECT" | "PRIORITIZED_OVERRIDE";

/** One subsystem's push on one dimension. */
export interface Contribution {
  /** The dimension, `^[a-z][a-z0-9_]*$`. */
  readonly dimension: string;
  /** How the value combines. MULT is a delta: +20% is `0.2`. */
  readonly bucket: Bucket;
  /** A finite float64; for MULT at least −1. */
  readonly value: number;
  /** The system that contributed it (used for ordering and explain). */
  readonly system: string;
  /** An integer ≥ 0, default 0; higher wins OVERRIDE ties and sorts first. */
  readonly priority?: number;
}

/** One subsystem's bound on one dimension, in one layer. */
export interface CapContribution {
  /** The system that contributed it. */
  readonly system: string;
  /** The dimension, `^[a-z][a-z0-9_]*$`. */
  readonly dimension: string;
  /** How the cap combines within its layer. */
  readonly mode: CapMode;
  /** Which side it bounds; HARD_MAX and SOFT_MAX imply `max`, HARD_MIN implies `min`. */
  readonly kind: CapKind;
  /** A finite float64. */
  readonly value: number;
  /** An integer ≥ 0, default 0. */
  readonly priority?: number;
  /** The layer this cap belongs to: a name from the layer registry's `order`. */
  readonly scope: string;
  /** Required when `scope` is `REALM`: which realm set the cap. */
  readonly realm?: string;
  /** Free-form labels, kept for explain. */
  readonly tags?: readonly string[];
}

/** Context modifiers for one context key (rule R9). */
export interface ModifierPack {
  /** Added percentages as fractions (0.2 = +20%). */
  readonly additive_percent?: number;
  /** Factors multiplied in order; each ≥ 0. */
  readonly multipliers?: readonly number[];
  /** Added after the multiplication. */
  readonly post_add?: number;
}

/** Where a subsystem runs: before primary values exist, or after (it then receives them). */
export type SubsystemStage = "primary" | "post_primary";

/** Describes which subsystem produced an output. */
export interface SubsystemMeta {
  /** The subsystem id. */
  readonly system: string;
  /** Informational stage label. */
  readonly stage?: string;
  /** The subsystem's own version (an integer), part of the cache fingerprint. */
  readonly version?: number;
}

/** Everything one subsystem contributes for one actor. */
export interface SubsystemOutput {
  /** Contributions to primary stats. */
  readonly primary: readonly Contribution[];
  /** Contributions to derived stats. */
  readonly derived: readonly Contribution[];
  /** Caps on any dimension. */
  readonly caps: readonly CapContribution[];
  /** Context modifier packs by context key (e.g. `damage_vs_undead`). */
  readonly context?: Readonly<Record<string, ModifierPack>>;
  /** Who produced it. */
  readonly meta: SubsystemMeta;
}

/**
 * What an emitting subsystem (`Subsystem.emit`) writes into: the facts of a
 * {@link SubsystemOutput} without building objects. Every contribution and cap carries the
 * subsystem's id as its `system`. Each call is checked as rule R0 checks an output (a bad call
 * throws the same named error, e.g. `field primary[2].value`), and a subsystem whose emit throws,
 * or made any bad call, adds nothing. The writer is valid only until `emit` returns.
 */
export interface StatsWriter {
  /** A contribution to a primary stat (as a `primary` entry of an output). */
  primary(dimension: string, bucket: Bucket, value: number, priority?: number): void;
  /** A contribution to a derived stat (as a `derived` entry of an output). */
  derived(dimension: string, bucket: Bucket, value: number, priority?: number): void;
  /** A cap (as a `caps` entry of an output; `realm` is required when `scope` is `REALM`). */
  cap(
    dimension: string,
    mode: CapMode,
    kind: CapKind,
    value: number,
    scope: string,
    realm?: string,
    priority?: number,
  ): void;
  /** A context modifier pack (as an entry of an output's `context`). */
  context(key: string, pack: ModifierPack): void;
}

/** How one dimension is aggregated (one entry of the combiner registry). */
export interface MergeRule {
  /** True: the FLAT/MULT/POST_ADD pipeline (R2); false: `operator` over all values (R3). */
  readonly use_pipeline: boolean;
  /** Required when `use_pipeline` is false. */
  readonly operator?: MergeOperator;
  /** The outermost bounds, applied in every layer and across layers. */
  readonly clamp_default: { readonly min: number; readonly max: number };
  /** SOFT_MAX ratio ρ in [0, 1]; default 0.5 (R7). */
  readonly soft_ratio?: number;
}

/** The combiner registry: a merge rule per dimension. */
export interface CombinerRegistry {
  /** Merge rules by dimension name. */
  readonly dimensions: Readonly<Record<string, MergeRule>>;
}

/** The layer registry: which layers exist, in which order, and how they combine. */
export interface LayerRegistry {
  /** Layer names, first = highest precedence for PRIORITIZED_OVERRIDE. */
  readonly order: readonly string[];
  /** How layers combine. */
  readonly across_policy: AcrossPolicy;
}

/** A game character (or anything with stats). */
export interface Actor {
  /** Stable id: the cache key. */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** Race id. */
  readonly race: string;
  /** Lifespan in years. */
  readonly lifespan: number;
  /** Age in years. */
  readonly age: number;
  /** Creation time, ms since the epoch. */
  readonly created_at: number;
  /** Last change, ms since the epoch. */
  readonly updated_at: number;
  /** Bumped by whoever changes anything a subsystem reads: part of the cache key. */
  readonly version: number;
  /** Ids of the registered subsystems that apply to this actor. */
  readonly subsystems: readonly string[];
  /** Free-form data the subsystems read. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** The effective bounds of one dimension. */
export interface CapBounds {
  /** Lower bound; always ≤ max. */
  readonly min: number;
  /** Upper bound. */
  readonly max: number;
}

/** A merged context pack (rule R9). */
export interface MergedModifierPack {
  /** Σ additive_percent. */
  readonly additive_percent: number;
  /** All multipliers, in subsystem order. */
  readonly multipliers: readonly number[];
  /** Σ post_add. */
  readonly post_add: number;
}

/** The values of one resolve, before actor and time are attached. */
export interface StatValues {
  /** Final primary values, keys sorted. */
  readonly primary: Readonly<Record<string, number>>;
  /** Final derived values, keys sorted. */
  readonly derived: Readonly<Record<string, number>>;
  /** Effective bounds of every dimension seen in primary, derived or caps, keys sorted. */
  readonly caps_used: Readonly<Record<string, CapBounds>>;
  /** Merged context packs; present only when some subsystem emitted context. */
  readonly context?: Readonly<Record<string, MergedModifierPack>>;
}

/** A resolved actor: its stat values under one registry epoch. Treat it as read-only (it is cached). */
export interface Snapshot extends StatValues {
  /** The actor's id. */
  readonly actor_id: string;
  /** The actor version it was computed from. */
  readonly version: number;
  /** The registry epoch it was computed under. */
  readonly epoch: number;
  /** When it was computed (ms since the epoch, from the aggregator's clock). */
  readonly created_at: number;
  /** With `failurePolicy: "degrade"`: the subsystems that failed and were left out, sorted. */
  readonly failed_systems?: readonly string[];
}

/** The snapshot shape of the original golden vectors. */
export interface GoldenSnapshot {
  /** Primary values. */
  readonly Primary: Readonly<Record<string, number>>;
  /** Derived values. */
  readonly Derived: Readonly<Record<string, number>>;
  /** Bounds per dimension. */
  readonly CapsUsed: Readonly<Record<string, { readonly Min: number; readonly Max: number }>>;
  /** The actor version. */
  readonly Version: number;
}
