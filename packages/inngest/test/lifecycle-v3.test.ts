import { describeLifecycle } from "./lifecycle-suite.js";
import { kitV3 } from "./sdk-kits.js";

describeLifecycle(kitV3);
