import { kitV3 } from "./sdk-kits.js";
import { describeSdk } from "./sdk-suite.js";

describeSdk(kitV3);
