import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { describeOffload } from "./offload-suite.js";
import { redisBackend } from "./redis-backend.js";
import { kitV3 } from "./sdk-kits.js";

describeOffload(kitV3, sqliteBackend());
describeOffload(kitV3, postgresBackend());
describeOffload(kitV3, redisBackend());
