import { describeConnect } from "./connect-suite.js";
import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { redisBackend } from "./redis-backend.js";

describeConnect(sqliteBackend());
describeConnect(postgresBackend());
describeConnect(redisBackend());
