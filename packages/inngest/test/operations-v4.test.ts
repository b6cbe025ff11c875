import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { describeOperations, redisBackend } from "./operations-suite.js";
import { kitV4 } from "./sdk-kits.js";

describeOperations(kitV4, sqliteBackend(), { cronJitter: true, waitAnyByName: false });
describeOperations(kitV4, postgresBackend(), { cronJitter: true, waitAnyByName: false });
describeOperations(kitV4, redisBackend(), { cronJitter: true, waitAnyByName: false });
