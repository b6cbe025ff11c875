import { troupeBuild } from "../../tooling/tsup/index.js";

export default troupeBuild();
