import { getConnInfo } from "@hono/node-server/conninfo";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Context } from "hono";
import { principalOf } from "../access/access-control.js";
import { registerActorTools } from "./actor-tools.js";
import { registerEventTools } from "./event-tools.js";
import type { McpCaller, McpDeps, ToolContext } from "./mcp-context.js";
import { registerRunTools } from "./run-tools.js";
import { registerStatsTools } from "./stats-tools.js";

/** The version of the tool set (bumped when a tool changes shape). */
const TOOLSET_VERSION = "1.0.0";

/** The names of every tool the Troupe MCP server offers, in listing order. */
export const MCP_TOOLS = [
  "send_event",
  "list_runs",
  "get_run",
  "cancel_run",
  "rerun_run",
  "list_functions",
  "list_actor_types",
  "call_actor",
  "get_actor_state",
  "resolve_stats",
  "explain_stats",
] as const;

/** An MCP server with Troupe's tools, each checking `caller`'s scopes. */
export function createMcpServer(deps: McpDeps, caller: McpCaller): McpServer {
  const server = new McpServer(
    { name: "troupe", version: TOOLSET_VERSION },
    {
      instructions:
        "Troupe runtime: send events, inspect, cancel and rerun runs, list functions, call actors and read their state, resolve and explain stats. A tool the token lacks the scope for answers an error naming the scope.",
    },
  );
  const context: ToolContext = { deps, caller };
  const current = () => context;
  registerEventTools(server, current);
  registerRunTools(server, current);
  registerActorTools(server, current);
  registerStatsTools(server, current);
  return server;
}

function sourceOf(context: Context): string {
  try {
    return getConnInfo(context).remote.address ?? "unknown";
  } catch {
    return "unknown"; // app.request() in tests has no socket
  }
}

/**
 * The `/mcp` route: MCP's streamable HTTP transport, stateless (a server per request, JSON
 * answers), behind the runtime's access control and body limit. The caller is the principal the
 * access control recognised; without auth (dev) it holds every scope, as the HTTP API does.
 */
export function mcpHandler(deps: McpDeps): (context: Context) => Promise<Response> {
  return async (context) => {
    if (context.req.method !== "POST") {
      // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
      return context.json(
        {
          jsonrpc: "2.0",
          error: { code: -32000, message: "Method not allowed: POST only" },
          id: null,
        },
        405,
        { Allow: "POST" },
      );
    }
    const principal = principalOf(context);
    const caller: McpCaller = {
      name: principal?.name ?? "anonymous",
      tokenId: principal?.tokenId,
      scopes: principal?.scopes ?? ["admin"],
      source: sourceOf(context),
    };
    const server = createMcpServer(deps, caller);
    const transport = new WebStandardStreamableHTTPServerTransport({
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(context.req.raw);
    } finally {
      await server.close();
    }
  };
}
