import { troupeProject } from "../../tooling/vitest/index.js";

// The crash tests run their cases side by side (describe.concurrent); each case starts one to
// three node processes, so at most three cases at once keep a 2-core machine from starving the
// nodes' heartbeats.
export default troupeProject("actor-tx", { test: { maxConcurrency: 3 } });
