import { troupeBuild } from "../../tooling/tsup/index.js";

// `scopes` is its own entry so a CLI can list the token scopes without loading the runtime.
export default troupeBuild({ entry: { index: "src/index.ts", scopes: "src/access/scopes.ts" } });
