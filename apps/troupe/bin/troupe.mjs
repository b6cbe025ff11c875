#!/usr/bin/env node
// Runs the troupe CLI. Inside the Troupe workspace it runs the TypeScript source (through tsx,
// with the `source` export condition, so it never runs a stale build); installed from the
// registry, where only dist/ ships, it runs the build.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../src/main.ts", import.meta.url));
if (existsSync(source)) {
  const tsx = import.meta.resolve("tsx");
  const child = spawn(
    process.execPath,
    ["--import", tsx, "--conditions=source", source, ...process.argv.slice(2)],
    // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards it
    // once (a second copy would read as "force quit" to a server shutting down gracefully).
    { stdio: "inherit", detached: true },
  );
  // Forward termination signals, so `kill <pid>` from a supervisor stops the server gracefully
  // instead of orphaning it; the child decides when to exit.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await import("../dist/main.js");
}
