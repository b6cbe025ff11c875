import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The ten Actor Core v3 golden vectors (`test/golden/<case>/`), kept in the repository so a plain
 * clone runs every test.
 */
export const GOLDEN_ROOT = fileURLToPath(new URL("./golden/", import.meta.url));

/** The sample registries the golden vectors use (`examples/`, shipped in the package). */
export const EXAMPLES_ROOT = fileURLToPath(new URL("../examples/", import.meta.url));

function requireRoot(): string {
  if (!existsSync(GOLDEN_ROOT)) {
    throw new Error(
      `Actor Core v3 golden data not found at ${GOLDEN_ROOT}: packages/stats/test/golden/ is part of the repository; restore it with git checkout.`,
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
  requireRoot();
  return `${EXAMPLES_ROOT}Registry.example.yml`;
}

/** All golden vectors, sorted by name. */
export function goldenCases(): GoldenCase[] {
  const root = requireRoot();
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
