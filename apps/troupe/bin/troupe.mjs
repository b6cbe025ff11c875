#!/usr/bin/env node
// Runs the troupe CLI. Inside the Troupe workspace it runs the TypeScript source (through tsx,
// with the `source` export condition, so it never runs a stale build); installed from the
// registry, where only dist/ ships, it runs the build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
if (existsSync(source)) {
  const tsx = import.meta.resolve("tsx");
  const result = spawnSync(
    process.execPath,
    ["--import", tsx, "--conditions=source", source, ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  if (result.error) throw result.error;
  process.exit(result.status ?? (result.signal ? 1 : 0));
} else {
  await import("../dist/main.js");
}
