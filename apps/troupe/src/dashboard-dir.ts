import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The built dashboard of the `@troupe/dashboard` package this CLI depends on: its `dist` folder,
 * wherever the package manager put it (a workspace link, a flat `node_modules`, pnpm's store, an
 * npx cache). Undefined when the package is missing or not built; the runtime then looks for one
 * itself.
 */
export function installedDashboardDir(from: string = import.meta.url): string | undefined {
  try {
    const manifest = createRequire(from).resolve("@troupe/dashboard/package.json");
    const dir = path.join(path.dirname(manifest), "dist");
    return existsSync(path.join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}
