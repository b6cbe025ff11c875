import { createRedisQueue, createRedisStore } from "@troupe/redis";
import { describeAdmissionControl } from "./admission-suite.js";
import { describeConcurrencyControl } from "./concurrency-suite.js";
import { describeFlowsEngine, type EnginePortsFactory } from "./engine-suite.js";
import { describeSignalSteps } from "./signals-suite.js";

const url = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

// Each test has its own Redis key prefix and engine prefix, and removes its data afterwards.
const redisPorts: EnginePortsFactory = async ({ id, clock }) => {
  const store = createRedisStore({ url, prefix: `troupe_flows_test:${id}:` });
  const queue = createRedisQueue({ url, prefix: `troupe_flows_test:${id}:`, queueName: id, clock });
  return {
    store,
    queue,
    close: async () => {
      await queue.close();
      await store.close();
    },
  };
};

describeFlowsEngine("redis", redisPorts);
describeSignalSteps("redis", redisPorts);
describeAdmissionControl("redis", redisPorts);
describeConcurrencyControl("redis", redisPorts);
