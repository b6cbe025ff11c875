import { existsSync } from "node:fs";
import path from "node:path";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { TroupeError } from "@troupe/core";
import type { Runtime, RuntimeConfig } from "@troupe/runtime";
import type { Command } from "commander";
import { loadRuntime } from "./load-runtime.js";
import { DEFAULT_CONFIG_FILE } from "./start.js";

/** Flags of `troupe mcp`. */
export interface McpFlags {
  readonly config: string;
  readonly url?: string;
  readonly token?: string;
  readonly storage?: string;
  /** False with `--no-start`: fail when no runtime answers instead of starting one. */
  readonly start: boolean;
}

/** The runtime URL a config names (`server.host`, `server.port`), for a client on this machine. */
export function configuredUrl(config: RuntimeConfig): string {
  const host = config.server.host ?? "127.0.0.1";
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${config.server.port}`;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(new URL("/health", url), { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

function isRequest(message: JSONRPCMessage): message is JSONRPCMessage & {
  id: string | number;
  method: string;
} {
  return "method" in message && "id" in message;
}

/**
 * Relays MCP messages between an assistant on stdio and a runtime's `/mcp`: the runtime checks
 * the token's scopes and audits, exactly as for a client connected over HTTP. Resolves when the
 * assistant closes stdin.
 */
export async function relayStdio(url: string, token: string | undefined): Promise<void> {
  // Loaded here, not at start-up: the MCP SDK is needed only by this command.
  const [{ StreamableHTTPClientTransport }, { StdioServerTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/server/stdio.js"),
  ]);
  const upstream = new StreamableHTTPClientTransport(new URL("/mcp", url), {
    requestInit: { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
  });
  const local = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    local.onclose = resolve;
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
  });
  local.onmessage = (message) => {
    upstream.send(message).catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error);
      process.stderr.write(`troupe mcp: ${text}\n`);
      // A request must be answered: the failure goes back to the assistant under its id.
      if (isRequest(message)) {
        void local.send({
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32000, message: `Troupe runtime at ${url}: ${text}` },
        });
      }
    });
  };
  upstream.onmessage = (message) => {
    const result = (message as { result?: { protocolVersion?: unknown } }).result;
    if (typeof result?.protocolVersion === "string") {
      upstream.setProtocolVersion(result.protocolVersion);
    }
    void local.send(message);
  };
  upstream.onerror = (error) => process.stderr.write(`troupe mcp: ${error.message}\n`);
  await upstream.start();
  await local.start();
  await closed;
  await upstream.close();
}

/**
 * `troupe mcp`: Troupe's MCP tools on stdio for a coding assistant. Attaches to the runtime the
 * config names (or `--url`), or starts one in this process from the config when none answers;
 * the token is `--token`, `TROUPE_TOKEN`, or the config's `auth.token`.
 */
export function registerMcpCommand(program: Command): void {
  program
    .command("mcp")
    .description(
      "serve Troupe's MCP tools on stdio for a coding assistant (attaches to the configured runtime, or starts one)",
    )
    .option("-c, --config <file>", "config file naming the runtime", DEFAULT_CONFIG_FILE)
    .option(
      "--url <url>",
      "runtime to attach to (default: server.host and server.port of the config)",
    )
    .option(
      "--token <token>",
      "token with the scopes the assistant may use (default TROUPE_TOKEN, then auth.token)",
    )
    .option("--storage <url>", "storage URL of a runtime started here (overrides the config)")
    .option("--no-start", "fail when no runtime answers instead of starting one")
    .action(async (flags: McpFlags) => {
      const file = path.resolve(flags.config);
      const { createPinoLogger, createRuntime, loadRuntimeConfig } = await loadRuntime();
      const config = await loadRuntimeConfig({
        file: existsSync(file) ? file : undefined,
        overrides: flags.storage === undefined ? {} : { storage: { url: flags.storage } },
      });
      const token = flags.token ?? process.env.TROUPE_TOKEN ?? config.auth.token;
      let url = flags.url ?? configuredUrl(config);
      let runtime: Runtime | undefined;
      if (!(await healthy(url))) {
        if (!flags.start || flags.url !== undefined) {
          throw new TroupeError("UNAVAILABLE", `no Troupe runtime answers at ${url}`);
        }
        // Standard output carries MCP messages: the runtime logs to standard error.
        runtime = createRuntime(config, {
          mode: "dev",
          dashboardDir: false,
          logger: createPinoLogger({ level: config.log.level, destination: process.stderr }),
        });
        url = (await runtime.start()).url;
        process.stderr.write(`troupe mcp: started a runtime at ${url}\n`);
      }
      try {
        await relayStdio(url, token);
      } finally {
        await runtime?.stop();
      }
    });
}
