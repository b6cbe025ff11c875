import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { redisBackend } from "./redis-backend.js";
import { kitV4 } from "./sdk-kits.js";
import { describeSignals } from "./signals-suite.js";

describeSignals(kitV4, sqliteBackend());
describeSignals(kitV4, postgresBackend());
describeSignals(kitV4, redisBackend());
describeSignals(kitV4, sqliteBackend(), { checkpointing: true });
