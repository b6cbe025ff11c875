import { troupeProject } from "../../tooling/vitest/index.js";

// The browser tests start a runtime and Chromium: give them room, and keep them alone in their file.
export default troupeProject("dashboard", {
  test: { testTimeout: 90_000, hookTimeout: 90_000, include: ["test/**/*.test.ts"] },
});
