import { describeLifecycle } from "./lifecycle-suite.js";
import { kitV4 } from "./sdk-kits.js";

describeLifecycle(kitV4);
