import { troupeProject } from "../../tooling/vitest/index.js";

// The MCP client's SSE parser publishes its TypeScript under the `source` condition the
// workspace resolves with: vite transforms it (and the SDK importing it) instead of Node
// loading the .ts file.
export default troupeProject("cli", {
  test: { server: { deps: { inline: [/@modelcontextprotocol\/sdk/, /eventsource-parser/] } } },
});
