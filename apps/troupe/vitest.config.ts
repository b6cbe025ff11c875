import { troupeProject } from "../../tooling/vitest/index.js";

// The MCP client's SSE parser publishes its TypeScript under the `source` condition the
// workspace resolves with: vite transforms it (and the SDK importing it) instead of Node
// loading the .ts file.
// The command tests launch the real CLI, a launcher and a tsx child loading the source, two to
// four times a test: on a busy 2-core machine, with another test file beside them, that outgrows
// the default 30 s budget.
export default troupeProject("cli", {
  test: {
    testTimeout: 120_000,
    server: { deps: { inline: [/@modelcontextprotocol\/sdk/, /eventsource-parser/] } },
  },
});
