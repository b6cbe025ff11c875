import { defineConfig, type Options } from "tsup";

/** The build every Troupe package uses: ESM for Node 20, declarations, source maps. */
export function troupeBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    // Declarations read the workspace packages this one imports through their built `.d.ts`
    // (turbo builds dependencies first), not their TypeScript source: the `source` condition in
    // tsconfig would make every package's declaration build re-check its dependencies' code.
    dts: { compilerOptions: { customConditions: ["types"] } },
    clean: true,
    sourcemap: true,
    target: "node20",
    ...overrides,
  });
}
