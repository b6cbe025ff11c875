import { troupeProject } from "../../tooling/vitest/index.js";

// Every test here is a pure unit test beside its code (no mocks, no globals, no servers), so the
// files share one worker's module cache instead of each importing everything afresh: about half
// the CPU time of the run.
export default troupeProject("core", { test: { isolate: false } });
