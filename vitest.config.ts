import { defineConfig } from "vitest/config";
import { SummaryReporter } from "./tooling/vitest/summary-reporter.js";

// One run over every package's project (each resolves workspace packages to source).
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "deploy"],
    reporters: ["default", new SummaryReporter()],
  },
});
