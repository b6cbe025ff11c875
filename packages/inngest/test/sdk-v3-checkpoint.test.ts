import { kitV3 } from "./sdk-kits.js";
import { describeSdk } from "./sdk-suite.js";

// Troupe sends `ctx.fn_id`; v3 does not checkpoint unless the app opts in, and must still run.
describeSdk(kitV3, { checkpointing: true });
