import { troupeBuild } from "../../tooling/tsup/index.js";

export default troupeBuild({ entry: ["src/index.ts", "src/main.ts"] });
