import { defineConfig, type Options } from "tsup";

/** The build every Troupe package uses: ESM for Node 20, declarations, source maps. */
export function troupeBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node20",
    ...overrides,
  });
}
