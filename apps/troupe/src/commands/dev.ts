import { systemClock } from "@troupe/core";
import type { AppDiscovery, RuntimeConfig, RuntimeConfigInput, RuntimeMode } from "@troupe/runtime";
import { type Command, InvalidArgumentError } from "commander";
import { installedDashboardDir } from "../dashboard-dir.js";
import { loadRuntime } from "./load-runtime.js";

/** The storage `troupe dev` uses without `--storage` (the runtime's DEFAULT_STORAGE_URL). */
export const DEV_STORAGE_HELP = "sqlite:./.troupe/troupe.db";

/** Parses `-p` as a port (0 picks a free one). */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new InvalidArgumentError(`expected a port number 0-65535, got ${JSON.stringify(text)}`);
  }
  return port;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Options shared by `troupe dev` and `troupe start`. */
export interface ServeFlags {
  readonly port?: number;
  readonly host?: string;
  readonly storage?: string;
  readonly logLevel?: string;
}

/** The config fragment the command-line flags set (they win over file and environment). */
export function flagOverrides(flags: ServeFlags, apps: readonly string[] = []): RuntimeConfigInput {
  const server = {
    ...(flags.port === undefined ? {} : { port: flags.port }),
    ...(flags.host === undefined ? {} : { host: flags.host }),
  };
  return {
    ...(Object.keys(server).length > 0 ? { server } : {}),
    ...(flags.storage === undefined ? {} : { storage: { url: flags.storage } }),
    ...(flags.logLevel === undefined
      ? {}
      : { log: { level: flags.logLevel as NonNullable<RuntimeConfigInput["log"]>["level"] } }),
    ...(apps.length > 0 ? { apps: [...apps] } : {}),
  } as RuntimeConfigInput;
}

/** What {@link serve} does besides running the runtime. */
export interface ServeOptions {
  /**
   * Look for SDK apps on common local ports and paths and sync the ones found (`troupe dev`,
   * unless `--no-discovery`). Default false.
   */
  readonly discovery?: boolean;
}

/**
 * Starts a runtime in `mode`, prints where it listens and how to point an SDK at it, and stops it
 * gracefully on SIGINT/SIGTERM (a second signal forces the exit).
 */
export async function serve(
  config: RuntimeConfig,
  mode: RuntimeMode,
  options: ServeOptions = {},
): Promise<void> {
  const {
    createAppDiscovery,
    createRuntime,
    DISCOVERY_PATHS,
    DISCOVERY_PORTS,
    handleShutdownSignals,
  } = await loadRuntime();
  const dashboardDir = installedDashboardDir();
  const runtime = createRuntime(config, { mode, ...(dashboardDir ? { dashboardDir } : {}) });
  let address: Awaited<ReturnType<typeof runtime.start>>;
  try {
    address = await runtime.start();
  } catch (error) {
    await runtime.stop().catch(() => {});
    throw error;
  }
  const wildcard = address.host === "0.0.0.0" || address.host === "::";
  const inngest = runtime.inngest;
  let discovery: AppDiscovery | undefined;
  if (options.discovery === true && inngest) {
    discovery = createAppDiscovery({
      skipPorts: [address.port],
      knownUrls: config.apps,
      sync: async (url) => {
        const result = await inngest.syncApp(url);
        if (!result.ok) throw new Error(`status ${result.status}: ${result.message}`);
        return result;
      },
      intervalMs: config.appSyncIntervalMs,
      clock: systemClock,
      logger: runtime.logger.child({ component: "discovery" }),
    });
  }
  const lines = [
    `troupe ${mode} — ${address.url}`,
    // The banner says where the server is reachable from, not only the local address.
    `  bound    ${address.host}:${address.port}${wildcard ? " (every interface: reachable from other machines)" : ""}`,
    `  storage  ${runtime.storage.displayUrl}`,
    `  auth     ${config.auth.token === undefined ? "off" : "bearer token"}`,
    `  dashboard ${runtime.dashboardDir === undefined ? "not built (pnpm --filter @troupe/dashboard build)" : `${address.url}/`}`,
    ...config.apps.map((url, index) => `  ${index === 0 ? "apps" : "    "}     ${url}`),
    ...(runtime.protocols?.resp
      ? [`  redis    redis://127.0.0.1:${runtime.protocols.resp.port()}`]
      : []),
    ...(runtime.protocols?.pgwire
      ? [`  sql      postgres://troupe@127.0.0.1:${runtime.protocols.pgwire.port()}/troupe`]
      : []),
    ...(mode === "dev"
      ? [
          discovery
            ? `  discovery on: ports ${DISCOVERY_PORTS.join(", ")}; paths ${DISCOVERY_PATHS.join(", ")} (--no-discovery turns it off)`
            : "  discovery off",
        ]
      : []),
    mode === "dev"
      ? `Point your Inngest SDK app at it: INNGEST_DEV=${address.url}`
      : `Point your Inngest SDK apps at it: INNGEST_BASE_URL=${address.url} with INNGEST_SIGNING_KEY set`,
    "",
  ];
  process.stdout.write(lines.join("\n"));
  // Not awaited: probing must not hold up the server.
  void discovery?.start();
  handleShutdownSignals({
    stop: async () => {
      await discovery?.stop();
      await runtime.stop();
    },
    logger: runtime.logger,
    exit: (code) => {
      process.exitCode = code;
      // Everything is closed after a clean stop, so the process ends by itself; this only
      // covers a handle someone else left open.
      setTimeout(() => process.exit(code), code === 0 ? 2000 : 0).unref();
    },
  });
}

/** `troupe dev`: the all-in-one local server on port 8288, SQLite under ./.troupe by default. */
export function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description(
      "run Troupe locally: the Inngest-compatible API on port 8288, storage in ./.troupe (SQLite), no auth; finds SDK apps on common local ports",
    )
    .option("-p, --port <port>", "port to listen on (default 8288; 0 picks a free one)", parsePort)
    .option("-H, --host <host>", "interface to listen on (default 127.0.0.1)")
    .option(
      "-u, --sdk-url <url>",
      "serve URL of an Inngest SDK app, synced at start and every 5 s (repeatable)",
      collect,
      [],
    )
    .option(
      "--no-discovery",
      "do not look for SDK apps on common local ports (3000, 3030, 8080, …) and serve paths",
    )
    .option("--storage <url>", `storage URL (default ${DEV_STORAGE_HELP})`)
    .option("-c, --config <file>", "optional config file (troupe.config.json or .ts)")
    .option("--log-level <level>", "debug, info, warn, error or silent")
    .addHelpText(
      "after",
      "\nEnvironment: TROUPE_STORAGE_URL, TROUPE_PORT, TROUPE_HOST, TROUPE_AUTH_TOKEN, TROUPE_LOG_LEVEL, …\nPrecedence: flags > environment > config file > defaults.",
    )
    .action(
      async (flags: ServeFlags & { sdkUrl: string[]; config?: string; discovery: boolean }) => {
        const { enableDevProtocols, loadRuntimeConfig } = await loadRuntime();
        const config = await loadRuntimeConfig({
          file: flags.config,
          overrides: flagOverrides(flags, flags.sdkUrl),
        });
        await serve(enableDevProtocols(config), "dev", { discovery: flags.discovery });
      },
    );
}
