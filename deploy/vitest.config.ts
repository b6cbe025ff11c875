import { troupeProject } from "../tooling/vitest/index.js";

// Building the image takes a minute or two on a loaded machine.
export default troupeProject("deploy", { test: { testTimeout: 300_000, hookTimeout: 300_000 } });
