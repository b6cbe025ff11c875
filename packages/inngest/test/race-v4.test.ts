import { postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { describeRace } from "./race-suite.js";
import { redisBackend } from "./redis-backend.js";
import { kitV4 } from "./sdk-kits.js";

describeRace(kitV4, sqliteBackend());
describeRace(kitV4, postgresBackend());
describeRace(kitV4, redisBackend());
describeRace(kitV4, sqliteBackend(), { checkpointing: true });
