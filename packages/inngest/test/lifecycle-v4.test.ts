import { describeLifecycle, postgresBackend, sqliteBackend } from "./lifecycle-suite.js";
import { kitV4 } from "./sdk-kits.js";

describeLifecycle(kitV4, sqliteBackend());
describeLifecycle(kitV4, postgresBackend());
