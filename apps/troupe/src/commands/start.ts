import { existsSync } from "node:fs";
import path from "node:path";
import { TroupeError } from "@troupe/core";
import type { MissingSetting } from "@troupe/runtime";
import type { Command } from "commander";
import { flagOverrides, parsePort, type ServeFlags, serve } from "./dev.js";
import { loadRuntime } from "./load-runtime.js";

/** Where `troupe start` looks for its config file when `-c` is not given. */
export const DEFAULT_CONFIG_FILE = "troupe.config.json";

/**
 * One error naming every missing setting: a single `field: message` line when one is missing,
 * otherwise a list, so an operator fixes them all before the next attempt.
 */
export function missingSettingsError(missing: readonly MissingSetting[]): TroupeError {
  const fields = missing.map((setting) => setting.field);
  const message =
    missing.length === 1
      ? `${missing[0]?.field}: ${missing[0]?.message}`
      : `troupe start is missing ${missing.length} settings:\n${missing
          .map((setting) => `  - ${setting.field}: ${setting.message}`)
          .join("\n")}`;
  return new TroupeError("INVALID_ARGUMENT", message, {
    details: { field: fields[0] ?? "config", fields },
  });
}

/**
 * `troupe start`: production. A config file is required, and so are a signing key, an event key
 * and an auth token (from the file or TROUPE_SIGNING_KEY / TROUPE_EVENT_KEY / TROUPE_AUTH_TOKEN);
 * only the apps listed in the config are synced. Everything missing is reported at once.
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
      const hasFile = existsSync(file);
      const { loadRuntimeConfig, missingStartSettings } = await loadRuntime();
      // Without the file, the environment is still read, so the list below is complete.
      const config = await loadRuntimeConfig({
        file: hasFile ? file : undefined,
        overrides: flagOverrides(flags),
      });
      const missing: MissingSetting[] = [
        ...(hasFile
          ? []
          : [
              {
                field: "config",
                message: `troupe start needs a config file; ${file} does not exist (pass -c <file>)`,
              },
            ]),
        ...missingStartSettings(config),
      ];
      if (missing.length > 0) throw missingSettingsError(missing);
      await serve(config, "start");
    });
}
