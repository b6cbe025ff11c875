import { troupeProject } from "../../tooling/vitest/index.js";

export default troupeProject("actor-streams");
