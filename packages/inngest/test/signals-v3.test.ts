import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { redisBackend } from "./redis-backend.js";
import { kitV3 } from "./sdk-kits.js";
import { describeSignals } from "./signals-suite.js";

describeSignals(kitV3, sqliteBackend());
describeSignals(kitV3, postgresBackend());
describeSignals(kitV3, redisBackend());
