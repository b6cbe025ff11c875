import { kitV4 } from "./sdk-kits.js";
import { describeSigning } from "./signing-suite.js";

describeSigning(kitV4);
