import { describeFlowControl } from "./flow-control-suite.js";
import { kitV3 } from "./sdk-kits.js";

describeFlowControl(kitV3);
