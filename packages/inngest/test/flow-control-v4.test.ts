import { describeFlowControl } from "./flow-control-suite.js";
import { kitV4 } from "./sdk-kits.js";

describeFlowControl(kitV4);
