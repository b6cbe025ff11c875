import { troupeBuild } from "../../tooling/tsup/index.js";

// The batch worker is an entry of its own: worker threads load it by file.
export default troupeBuild({ entry: ["src/index.ts", "src/batch-worker.ts"] });
