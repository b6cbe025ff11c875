import { existsSync } from "node:fs";
import path from "node:path";
import { TroupeError } from "@troupe/core";
import { loadRuntimeConfig } from "@troupe/runtime";
import type { Command } from "commander";
import { flagOverrides, parsePort, type ServeFlags, serve } from "./dev.js";

/** Where `troupe start` looks for its config file when `-c` is not given. */
export const DEFAULT_CONFIG_FILE = "troupe.config.json";

/**
 * `troupe start`: production. A config file is required, and so are a signing key and an auth
 * token (from the file or TROUPE_SIGNING_KEY / TROUPE_AUTH_TOKEN); only the apps listed in the
 * config are synced.
 */
export function registerStartCommand(program: Command): void {
  program
    .command("start")
    .description(
      "run Troupe in production from a config file (signing key, event key and auth token required)",
    )
    .option("-c, --config <file>", "config file (.json, .ts, .mjs)", DEFAULT_CONFIG_FILE)
    .option("-p, --port <port>", "port to listen on (overrides the config)", parsePort)
    .option(
      "-H, --host <host>",
      "interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to other machines)",
    )
    .option("--log-level <level>", "debug, info, warn, error or silent")
    .action(async (flags: ServeFlags & { config: string }) => {
      const file = path.resolve(flags.config);
      if (!existsSync(file)) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `config: troupe start needs a config file; ${file} does not exist (pass -c <file>)`,
          { details: { field: "config", file } },
        );
      }
      const config = await loadRuntimeConfig({ file, overrides: flagOverrides(flags) });
      await serve(config, "start");
    });
}
