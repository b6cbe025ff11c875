import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { SummaryReporter } from "./tooling/vitest/summary-reporter.js";

const repo = fileURLToPath(new URL(".", import.meta.url));
const folders = ["packages", "apps"]
  .flatMap((parent) => readdirSync(join(repo, parent)).map((folder) => join(repo, parent, folder)))
  .concat(join(repo, "deploy"))
  .filter((folder) => existsSync(join(folder, "vitest.config.ts")));

const countTests = (folder: string, under: string) =>
  existsSync(join(folder, under))
    ? readdirSync(join(folder, under), { recursive: true }).filter((file) =>
        String(file).endsWith(".test.ts"),
      ).length
    : 0;

/** Unit test files a package needs before its own unit project pays for a second vite server. */
const MIN_UNIT_FILES = 8;

/**
 * The project(s) of a package's vitest.config.ts. Tests beside the code (`src/`: no mocks, no
 * globals, nothing one file leaves for the next) run without isolation, so the files share one
 * worker's module cache instead of each importing the package and its dependencies afresh (flows'
 * 42 unit files: a fifth of the CPU time). The cross-process and server tests in `test/` stay
 * isolated, one file per fresh module graph. A package with both runs them as two projects,
 * `<name>:unit` and `<name>`; each project has its own vite server that transforms every module
 * again, so only packages with MIN_UNIT_FILES unit files or more are split.
 */
function projectsOf(folder: string): TestProjectInlineConfiguration[] {
  const { name } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const project = String(name).replace(/^@troupe\//, "");
  const base = { extends: join(folder, "vitest.config.ts"), root: folder };
  const unitFiles = countTests(folder, "src");
  const processFiles = countTests(folder, "test");
  if (processFiles === 0) return [{ ...base, test: { isolate: false } }];
  if (unitFiles < MIN_UNIT_FILES) return [base];
  return [
    {
      ...base,
      test: { name: `${project}:unit`, include: ["src/**/*.test.ts"], isolate: false },
    },
    { ...base, test: { name: project, include: ["test/**/*.test.ts"] } },
  ];
}

/**
 * Test files run side by side in at least two workers. Vitest's default, one fewer than the cores,
 * is a single worker on a 2-core CI machine: the 309 files then ran one at a time, never two at
 * once, and a core sat idle while a file waited on a spawned process, a server or a timer.
 */
const MIN_WORKERS = 2;

// One run over every package's projects (each resolves workspace packages to source).
export default defineConfig({
  test: {
    maxWorkers: Math.max(availableParallelism() - 1, MIN_WORKERS),
    projects: folders.flatMap(projectsOf),
    reporters: ["default", new SummaryReporter()],
  },
});
