export { aggregateOutputs, applyModifierPack, toGoldenSnapshot } from "./aggregate.js";
export {
  type ActorExplanation,
  type BatchResult,
  createStatsAggregator,
  type FailurePolicy,
  type RegistryUpdate,
  type ReloadEvent,
  type StatsAggregator,
  type StatsAggregatorOptions,
  type StatsCacheOptions,
} from "./aggregator.js";
export type { StatsWorkerOptions } from "./batch-pool.js";
export {
  decodeStoredSnapshot,
  encodeStoredSnapshot,
  type L1Stats,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotLru,
  type SnapshotTier,
} from "./cache.js";
export { CompactBatch, type CompactBatchOptions } from "./compact-batch.js";
export { type StatsErrorLocation, statsInputError } from "./errors.js";
export {
  type AcrossExplanation,
  type AcrossSource,
  type BoundSource,
  type Explanation,
  explainOutputs,
  formatExplanation,
  type LayerExplanation,
  type SectionExplanation,
  type SoftKneeExplanation,
} from "./explain.js";
export { PooledSnapshot, plainSnapshot } from "./pooled-snapshot.js";
export { prepareOutput } from "./prepared-output.js";
export {
  type CompiledRegistry,
  type CompileRegistryOptions,
  compileRegistry,
  DEFAULT_LAYER_REGISTRY,
  DEFAULT_MERGE_RULE,
  type DimensionInfo,
  MAX_DIMENSIONS,
  type OperatorCode,
  parseCombinerRegistry,
  parseLayerRegistry,
  parseRegistryText,
  parseSubsystemOutputs,
} from "./registry.js";
export {
  actorSchema,
  capContributionSchema,
  combinerRegistrySchema,
  contributionSchema,
  DIMENSION_PATTERN,
  goldenSnapshotSchema,
  layerRegistrySchema,
  mergeRuleSchema,
  modifierPackSchema,
  parseWithSchema,
  snapshotSchema,
  subsystemOutputSchema,
} from "./schemas.js";
export {
  createSubsystemRegistry,
  type RegisteredSubsystem,
  type Subsystem,
  type SubsystemInput,
  type SubsystemRegistry,
} from "./subsystems.js";
export type {
  AcrossPolicy,
  Actor,
  Bucket,
  CapBounds,
  CapContribution,
  CapKind,
  CapMode,
  CombinerRegistry,
  Contribution,
  GoldenSnapshot,
  LayerRegistry,
  MergedModifierPack,
  MergeOperator,
  MergeRule,
  ModifierPack,
  Snapshot,
  StatsWriter,
  StatValues,
  SubsystemMeta,
  SubsystemOutput,
  SubsystemStage,
} from "./types.js";
