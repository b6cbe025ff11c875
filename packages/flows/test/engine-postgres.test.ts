import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { describeAdmissionControl } from "./admission-suite.js";
import { describeConcurrencyControl } from "./concurrency-suite.js";
import { describeFlowsEngine, type EnginePortsFactory } from "./engine-suite.js";
import { describeSignalSteps } from "./signals-suite.js";

const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// One schema for all flows tests; each test has its own key prefix and queue name, and removes
// its data afterwards. An unreachable server fails the first test with the adapter's error.
const postgresPorts: EnginePortsFactory = async ({ id, clock }) => {
  const store = createPostgresStore({ connectionString: url, schema: "troupe_flows_test" });
  const queue = createPostgresQueue({
    connectionString: url,
    schema: "troupe_flows_test",
    queueName: id,
    clock,
  });
  return {
    store,
    queue,
    close: async () => {
      await queue.close();
      await store.close();
    },
  };
};

describeFlowsEngine("postgres", postgresPorts);
describeSignalSteps("postgres", postgresPorts);
describeAdmissionControl("postgres", postgresPorts);
describeConcurrencyControl("postgres", postgresPorts);
