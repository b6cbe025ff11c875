import { describeLifecycle, postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { kitV3 } from "./sdk-kits.js";

describeLifecycle(kitV3, sqliteBackend());
describeLifecycle(kitV3, postgresBackend());
