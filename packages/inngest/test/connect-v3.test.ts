import { describeConnect } from "./connect-suite.js";
import { sqliteBackend } from "./lifecycle-suite.js";

// v3's worker drops a call that reaches it before it has finished its handshake (after a
// reconnect); the gateway sends an unacknowledged call again, so the restart case holds too.
describeConnect(sqliteBackend(), "v3");
