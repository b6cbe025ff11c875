import { sqliteBackend } from "./lifecycle-suite.js";
import { describeOperations } from "./operations-suite.js";
import { kitV3 } from "./sdk-kits.js";

// v3 has no cron jitter.
describeOperations(kitV3, sqliteBackend(), { cronJitter: false, waitAnyByName: true });
