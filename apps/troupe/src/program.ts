import { Command } from "commander";
import { registerDevCommand } from "./commands/dev.js";
import { registerDoctorCommand } from "./commands/doctor.js";
import { registerMcpCommand } from "./commands/mcp.js";
import { registerStartCommand } from "./commands/start.js";
import { registerStatsCommands } from "./commands/stats.js";
import { registerTokenCommands } from "./commands/token.js";
import { VERSION } from "./version.js";

/** Adds one group of subcommands to the program; each composed package contributes one. */
export type RegisterCommands = (program: Command) => void;

/** The subcommands every troupe build carries, in help order. */
export const builtInCommands: readonly RegisterCommands[] = [
  registerDevCommand,
  registerStartCommand,
  registerDoctorCommand,
  registerStatsCommands,
  registerTokenCommands,
  registerMcpCommand,
];

/**
 * Builds the `troupe` program from command groups. Apps compose the groups they ship; tests
 * build a program with `exitOverride()` to inspect output and exit codes.
 */
export function createProgram(groups: readonly RegisterCommands[] = builtInCommands): Command {
  const program = new Command("troupe")
    .description(
      "Troupe: stateful backends — stats, durable flows and virtual actors on one set of storage adapters.",
    )
    .version(VERSION, "-v, --version", "print the troupe version")
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false })
    // Subcommands own their options (`stats resolve --version N` is not the program's --version).
    .enablePositionalOptions();
  for (const register of groups) register(program);
  return program;
}
