import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { installedDashboardDir } from "./dashboard-dir.js";

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project whose node_modules holds a @troupe/dashboard package, built or not. */
function project(built: boolean): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "troupe-dashboard-dir-"));
  scratch.push(root);
  const pkg = path.join(root, "node_modules", "@troupe", "dashboard");
  mkdirSync(path.join(pkg, "dist"), { recursive: true });
  writeFileSync(
    path.join(pkg, "package.json"),
    JSON.stringify({ name: "@troupe/dashboard", exports: { "./package.json": "./package.json" } }),
  );
  if (built) writeFileSync(path.join(pkg, "dist", "index.html"), "<!doctype html>");
  return root;
}

describe("installedDashboardDir", () => {
  it("finds the dist folder of the installed @troupe/dashboard package", () => {
    const root = project(true);
    const from = pathToFileURL(path.join(root, "cli.js")).href;
    expect(installedDashboardDir(from)).toBe(
      path.join(root, "node_modules", "@troupe", "dashboard", "dist"),
    );
  });

  it("is undefined when the installed package holds no build", () => {
    const unbuilt = project(false);
    expect(installedDashboardDir(pathToFileURL(path.join(unbuilt, "cli.js")).href)).toBe(undefined);
  });

  it("resolves the workspace's dashboard from the CLI itself", () => {
    const dir = installedDashboardDir();
    // The workspace links apps/dashboard; `pnpm test` builds it before the tests run.
    expect(dir).toBe(path.resolve(import.meta.dirname, "..", "..", "dashboard", "dist"));
    expect(dir !== undefined && existsSync(path.join(dir, "index.html"))).toBe(true);
  });
});
