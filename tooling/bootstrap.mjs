#!/usr/bin/env node
// Installs the workspace. pnpm 12 does not read `nodedir` from .npmrc, so node-gyp would try to
// download Node's headers to build better-sqlite3; where this Node ships its headers (as Debian's
// and nvm's do), point node-gyp at them. Then `pnpm install` (frozen lockfile under CI), and build
// the dashboard's static files (about a second), so `pnpm troupe dev` serves it at `/`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  if (existsSync(path.join(prefix, "include", "node", "node.h"))) env.npm_config_nodedir = prefix;
}
const args = ["install", ...process.argv.slice(2)];
if (env.CI && env.CI !== "false") args.push("--frozen-lockfile");
const result = spawnSync("pnpm", args, { stdio: "inherit", env });
if (result.error) {
  console.error(
    `bootstrap: could not run pnpm (${result.error.message}); install it with: npm i -g pnpm@12.21.0`,
  );
  process.exit(1);
}
if (result.status !== 0) process.exit(result.status ?? 1);
const dashboard = spawnSync("pnpm", ["--filter", "@troupe/dashboard", "build"], {
  stdio: "inherit",
  env,
});
process.exit(dashboard.status ?? 1);
