import { invalidArgument, parseWith } from "@troupe/core";
import {
  aggregateOutputs,
  type CompiledRegistry,
  compileRegistry,
  type Explanation,
  explainOutputs,
  formatExplanation,
  type GoldenSnapshot,
  parseCombinerRegistry,
  parseLayerRegistry,
  parseSubsystemOutputs,
  toGoldenSnapshot,
} from "@troupe/stats";
import { z } from "zod";
import { API_FIELDS } from "./params.js";

/** A stats registry the runtime was configured with, used when a request brings none. */
export interface DashboardStatsOptions {
  /** The compiled combiner + layer registry (`compileRegistry` of `@troupe/stats`). */
  readonly registry: CompiledRegistry;
}

// Registries and inputs are text (YAML or JSON, as the CLI reads from files) or already-parsed JSON.
const textOrJson = z.union([z.string().min(1, "expected YAML or JSON text"), z.unknown()]);

const resolveSchema = z.object({
  registry: textOrJson.optional(),
  layers: textOrJson.optional(),
  input: textOrJson,
  version: z.number().int().min(0).optional(),
});

const explainSchema = resolveSchema.extend({
  dimension: z.string().min(1, "expected a dimension name"),
});

function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function load(body: z.infer<typeof resolveSchema>, configured: DashboardStatsOptions | undefined) {
  let registry = configured?.registry;
  if (body.registry !== undefined) {
    const combiner = parseCombinerRegistry(asText(body.registry), "body.registry");
    const layers =
      body.layers === undefined
        ? undefined
        : parseLayerRegistry(asText(body.layers), "body.layers");
    registry = compileRegistry(combiner, layers);
  }
  if (registry === undefined) {
    throw invalidArgument(
      "body.registry",
      "required: this runtime has no stats registry configured, so paste the combiner registry (YAML or JSON)",
    );
  }
  if (body.input === undefined) throw invalidArgument("body.input", "required");
  const outputs = parseSubsystemOutputs(asText(body.input), "body.input");
  return { registry, outputs };
}

/** `POST /api/stats/resolve`: the snapshot `{ Primary, Derived, CapsUsed, Version }`. */
export function statsResolve(
  body: unknown,
  configured: DashboardStatsOptions | undefined,
): GoldenSnapshot {
  const parsed = parseWith(resolveSchema, body, "body", API_FIELDS);
  const { registry, outputs } = load(parsed, configured);
  return toGoldenSnapshot(aggregateOutputs(registry, outputs), parsed.version ?? 1);
}

/** What `POST /api/stats/explain` answers: the snapshot, the explanation and its text tables. */
export interface StatsExplainResult {
  /** The resolved snapshot. */
  readonly snapshot: GoldenSnapshot;
  /** The structured explanation (rule R12). */
  readonly explanation: Explanation;
  /** The same as `troupe stats explain` prints. */
  readonly text: string;
}

/** `POST /api/stats/explain`: why `dimension` has its value. */
export function statsExplain(
  body: unknown,
  configured: DashboardStatsOptions | undefined,
): StatsExplainResult {
  const parsed = parseWith(explainSchema, body, "body", API_FIELDS);
  const { registry, outputs } = load(parsed, configured);
  const values = aggregateOutputs(registry, outputs); // validates (R0) before explaining
  if (registry.dimension(parsed.dimension) === undefined) {
    throw invalidArgument(
      "body.dimension",
      `unknown dimension ${JSON.stringify(parsed.dimension)} (expected a name matching ^[a-z][a-z0-9_]*$)`,
    );
  }
  const explanation = explainOutputs(registry, outputs, parsed.dimension);
  return {
    snapshot: toGoldenSnapshot(values, parsed.version ?? 1),
    explanation,
    text: formatExplanation(explanation),
  };
}
