#!/usr/bin/env node
// Installs the workspace. pnpm 12 does not read `nodedir` from .npmrc, so node-gyp would try to
// download Node's headers to build better-sqlite3; where this Node ships its headers (as Debian's,
// nvm's and nodejs.org's builds do), point node-gyp at them, and tell prebuild-install not to look
// for a prebuilt binary on the network either: better-sqlite3 then compiles offline, with nothing
// downloaded and no error printed. (pnpm-workspace.yaml sets `verifyDepsBeforeRun: false`, so no
// install starts before this script has set the environment.) Then `pnpm install` (frozen
// lockfile under CI), and build the dashboard's static files (about a second), so
// `pnpm troupe dev` serves it at `/`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  if (existsSync(path.join(prefix, "include", "node", "node.h"))) env.npm_config_nodedir = prefix;
}
if (env.npm_config_nodedir && !env.npm_config_build_from_source) {
  env.npm_config_build_from_source = "better-sqlite3";
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
