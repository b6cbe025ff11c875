import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { realtimeKitV3 } from "./realtime-kits.js";
import { describeRealtime } from "./realtime-suite.js";
import { redisBackend } from "./redis-backend.js";

describeRealtime(realtimeKitV3, sqliteBackend());
describeRealtime(realtimeKitV3, postgresBackend());
describeRealtime(realtimeKitV3, redisBackend());
