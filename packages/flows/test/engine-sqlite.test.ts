import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { describeAdmissionControl } from "./admission-suite.js";
import { describeConcurrencyControl } from "./concurrency-suite.js";
import { describeFlowsEngine, type EnginePortsFactory } from "./engine-suite.js";
import { describeSignalSteps } from "./signals-suite.js";

const sqlitePorts: EnginePortsFactory = async ({ id, clock }) => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-flows-"));
  const path = join(dir, `${id}.db`);
  const store = createSqliteStore({ path });
  const queue = createSqliteQueue({ path, clock, queueName: "flows" });
  return {
    store,
    queue,
    close: async () => {
      await queue.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

describeFlowsEngine("sqlite", sqlitePorts);
describeSignalSteps("sqlite", sqlitePorts);
describeAdmissionControl("sqlite", sqlitePorts);
describeConcurrencyControl("sqlite", sqlitePorts);
