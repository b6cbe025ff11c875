export type { McpCaller, McpDeps } from "./mcp-context.js";
export { createMcpServer, MCP_TOOLS, mcpHandler } from "./mcp-server.js";
