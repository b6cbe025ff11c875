import { kitV4 } from "./sdk-kits.js";
import { describeSdk } from "./sdk-suite.js";

describeSdk(kitV4, { checkpointing: true });
