import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The Actor Core v3 design data, which lives in the shared folder beside the repository
 * (`../shared` from the repo root; CI clones it there too).
 */
export const GOLDEN_ROOT = fileURLToPath(
  new URL("../../../../shared/data/actor-core-v3/", import.meta.url),
);

function requireRoot(): string {
  if (!existsSync(GOLDEN_ROOT)) {
    throw new Error(
      `Actor Core v3 golden data not found at ${GOLDEN_ROOT}. It must sit beside the repository as shared/data/actor-core-v3 (clone the shared folder next to the repo).`,
    );
  }
  return GOLDEN_ROOT;
}

/** One golden vector: its inputs as files and its expected output. */
export interface GoldenCase {
  readonly name: string;
  readonly dir: string;
  readonly subsystemsFile: string;
  readonly layersFile: string | undefined;
  readonly expected: unknown;
}

/** The registry file every golden vector uses. */
export function goldenRegistryFile(): string {
  return `${requireRoot()}appendix/Registry.example.yml`;
}

/** All golden vectors, sorted by name. */
export function goldenCases(): GoldenCase[] {
  const root = `${requireRoot()}golden_vectors/`;
  return readdirSync(root)
    .sort()
    .map((name) => {
      const dir = `${root}${name}/`;
      const layersFile = `${dir}cap_layer_registry.json`;
      return {
        name,
        dir,
        subsystemsFile: `${dir}subsystems.json`,
        layersFile: existsSync(layersFile) ? layersFile : undefined,
        expected: JSON.parse(readFileSync(`${dir}expected.json`, "utf8")) as unknown,
      };
    });
}
