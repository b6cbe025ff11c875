import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { realtimeKitV4 } from "./realtime-kits.js";
import { describeRealtime } from "./realtime-suite.js";
import { redisBackend } from "./redis-backend.js";

describeRealtime(realtimeKitV4, sqliteBackend());
describeRealtime(realtimeKitV4, postgresBackend());
describeRealtime(realtimeKitV4, redisBackend());
