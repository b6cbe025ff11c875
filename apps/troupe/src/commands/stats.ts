import { readFileSync } from "node:fs";
import { invalidArgument, TroupeError } from "@troupe/core";
import {
  aggregateOutputs,
  compileRegistry,
  explainOutputs,
  formatExplanation,
  type GoldenSnapshot,
  parseCombinerRegistry,
  parseLayerRegistry,
  parseSubsystemOutputs,
  statsInputError,
  toGoldenSnapshot,
} from "@troupe/stats";
import type { Command } from "commander";

/** Options shared by `stats resolve` and `stats explain`. */
export interface StatsFileOptions {
  /** Combiner registry file (YAML or JSON). */
  readonly registry: string;
  /** Layer registry file (YAML or JSON); default `[REALM, WORLD, EVENT, TOTAL]`, INTERSECT. */
  readonly layers?: string;
}

function readText(file: string, option: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (cause) {
    const reason =
      (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause);
    throw new TroupeError("INVALID_ARGUMENT", `${option}: cannot read ${file}: ${reason}`, {
      cause,
      details: { field: option, file },
    });
  }
}

function load(options: StatsFileOptions, input: string) {
  const combiner = parseCombinerRegistry(
    readText(options.registry, "--registry"),
    options.registry,
  );
  const layers =
    options.layers === undefined
      ? undefined
      : parseLayerRegistry(readText(options.layers, "--layers"), options.layers);
  const registry = compileRegistry(combiner, layers);
  const outputs = parseSubsystemOutputs(readText(input, "INPUT"), input);
  return { registry, outputs };
}

function withFile<T>(file: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    // Engine errors name subsystem, dimension and field; add the input file they came from.
    if (TroupeError.isInstance(error, "INVALID_ARGUMENT") && error.details.file === undefined) {
      throw statsInputError(
        {
          file,
          ...(typeof error.details.system === "string" ? { system: error.details.system } : {}),
          ...(typeof error.details.dimension === "string"
            ? { dimension: error.details.dimension }
            : {}),
          field: typeof error.details.field === "string" ? error.details.field : "(input)",
        },
        typeof error.details.problem === "string" ? error.details.problem : error.message,
      );
    }
    throw error;
  }
}

function parseVersion(text: string): number {
  const version = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(version)) {
    throw invalidArgument("--version", `expected an integer ≥ 0, got ${JSON.stringify(text)}`);
  }
  return version;
}

/**
 * The golden runner: resolves subsystem outputs from `input` with the given registries and
 * returns the snapshot in the golden shape `{ Primary, Derived, CapsUsed, Version }`.
 */
export function runStatsResolve(
  input: string,
  options: StatsFileOptions & { readonly version?: number },
): GoldenSnapshot {
  const { registry, outputs } = load(options, input);
  return withFile(input, () =>
    toGoldenSnapshot(aggregateOutputs(registry, outputs), options.version ?? 1),
  );
}

/** Explains `dimension` for the subsystem outputs in `input`: a readable report with tables. */
export function runStatsExplain(
  input: string,
  options: StatsFileOptions & { readonly dimension: string; readonly json?: boolean },
): string {
  const { registry, outputs } = load(options, input);
  return withFile(input, () => {
    aggregateOutputs(registry, outputs); // validates (R0) before explaining
    if (registry.dimension(options.dimension) === undefined) {
      throw statsInputError(
        { dimension: options.dimension, field: "--dimension" },
        "expected a dimension name matching ^[a-z][a-z0-9_]*$",
      );
    }
    const explanation = explainOutputs(registry, outputs, options.dimension);
    return options.json
      ? `${JSON.stringify(explanation, null, 2)}\n`
      : formatExplanation(explanation);
  });
}

function write(command: Command, text: string): void {
  let root = command;
  while (root.parent) root = root.parent;
  // The root's output configuration, so tests that capture program output see this too.
  root.configureOutput().writeOut?.(text);
}

/**
 * Adds `troupe stats resolve` (the golden runner contract) and `troupe stats explain`.
 *
 * It turns on positional options for the program: the contract's `--version N` belongs to
 * `stats resolve`, and without positional options commander would read it as the program's own
 * `--version` flag wherever it appears.
 */
export function registerStatsCommands(program: Command): void {
  program.enablePositionalOptions();
  const stats = program
    .command("stats")
    .description("Actor Core v3 stats: resolve subsystem outputs and explain a dimension.");

  stats
    .command("resolve")
    .description(
      "Resolve an array of subsystem outputs and print the snapshot { Primary, Derived, CapsUsed, Version } as JSON.",
    )
    .requiredOption("--registry <file>", "combiner registry (YAML or JSON)")
    .option(
      "--layers <file>",
      "layer registry (YAML or JSON); default REALM, WORLD, EVENT, TOTAL with INTERSECT",
    )
    .option("--version <n>", "actor version to report", "1")
    .argument("<input>", "JSON (or YAML) file holding an array of SubsystemOutput")
    .action(function (
      this: Command,
      input: string,
      options: { registry: string; layers?: string; version: string },
    ) {
      const snapshot = runStatsResolve(input, {
        registry: options.registry,
        ...(options.layers === undefined ? {} : { layers: options.layers }),
        version: parseVersion(options.version),
      });
      write(this, `${JSON.stringify(snapshot, null, 2)}\n`);
    });

  stats
    .command("explain")
    .description(
      "Explain why a dimension has its value: contributions, F/M/P, caps per layer, bounds.",
    )
    .requiredOption("--registry <file>", "combiner registry (YAML or JSON)")
    .option("--layers <file>", "layer registry (YAML or JSON)")
    .requiredOption("--dimension <name>", "the dimension to explain")
    .option("--json", "print the explanation as JSON instead of tables")
    .argument("<input>", "JSON (or YAML) file holding an array of SubsystemOutput")
    .action(function (
      this: Command,
      input: string,
      options: { registry: string; layers?: string; dimension: string; json?: boolean },
    ) {
      const text = runStatsExplain(input, {
        registry: options.registry,
        ...(options.layers === undefined ? {} : { layers: options.layers }),
        dimension: options.dimension,
        ...(options.json ? { json: true } : {}),
      });
      write(this, text);
    });
}
