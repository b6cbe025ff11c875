import { defineConfig } from "vite";

// Preact's automatic JSX runtime; no framework plugin is needed for a static build.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
});
