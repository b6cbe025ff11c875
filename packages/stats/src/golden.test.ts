import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { goldenCases, goldenRegistryFile } from "../test/golden-data.js";
import { aggregateOutputs, toGoldenSnapshot } from "./aggregate.js";
import { createStatsAggregator } from "./aggregator.js";
import { compileRegistry, parseCombinerRegistry, parseLayerRegistry } from "./registry.js";
import type { SubsystemOutput } from "./types.js";

const cases = goldenCases();

describe("golden vectors (API)", () => {
  it("finds all ten vectors", () => {
    expect(cases).toHaveLength(10);
  });

  const registryFile = goldenRegistryFile();
  const combiner = parseCombinerRegistry(readFileSync(registryFile, "utf8"), registryFile);
  for (const golden of cases) {
    it(golden.name, () => {
      const layers = golden.layersFile
        ? parseLayerRegistry(readFileSync(golden.layersFile, "utf8"), golden.layersFile)
        : undefined;
      const registry = compileRegistry(combiner, layers);
      const outputs = JSON.parse(readFileSync(golden.subsystemsFile, "utf8")) as SubsystemOutput[];
      const result = toGoldenSnapshot(aggregateOutputs(registry, outputs));
      expect(result).toStrictEqual(golden.expected);
      // Output maps have sorted keys (R1).
      expect(Object.keys(result.CapsUsed)).toEqual(Object.keys(result.CapsUsed).sort());
    });
  }
});

describe("golden vectors (aggregator with one subsystem per output)", () => {
  const registryFile = goldenRegistryFile();
  const combiner = parseCombinerRegistry(readFileSync(registryFile, "utf8"), registryFile);
  for (const golden of cases) {
    it(golden.name, async () => {
      const layers = golden.layersFile
        ? parseLayerRegistry(readFileSync(golden.layersFile, "utf8"), golden.layersFile)
        : undefined;
      const outputs = JSON.parse(readFileSync(golden.subsystemsFile, "utf8")) as SubsystemOutput[];
      const aggregator = createStatsAggregator({
        combiner,
        ...(layers ? { layers } : {}),
        subsystems: outputs.map((output) => ({ id: output.meta.system, contribute: () => output })),
      });
      const snapshot = await aggregator.resolve({
        id: golden.name,
        name: golden.name,
        race: "human",
        lifespan: 100,
        age: 1,
        created_at: 0,
        updated_at: 0,
        version: 1,
        subsystems: outputs.map((output) => output.meta.system),
        data: {},
      });
      expect(toGoldenSnapshot(snapshot, snapshot.version)).toStrictEqual(golden.expected);
    });
  }
});
