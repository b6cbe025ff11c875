import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { describeOffload } from "./offload-suite.js";
import { redisBackend } from "./redis-backend.js";
import { kitV4 } from "./sdk-kits.js";

describeOffload(kitV4, sqliteBackend());
describeOffload(kitV4, postgresBackend());
describeOffload(kitV4, redisBackend());
describeOffload(kitV4, sqliteBackend(), { checkpointing: true });
