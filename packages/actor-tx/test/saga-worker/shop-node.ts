/**
 * One shop process for the saga crash test: actors and a flows worker on one SQLite file.
 * `node shop-node.ts <db path> <worker id> <crash step> <order json>` starts the order saga,
 * prints `run <id>`, and once the step `<crash step>` made its actor call prints
 * `crash-point <step>` and hangs there, so that the test can SIGKILL it at that point.
 */
import { type ActorSystem, createActorSystem } from "@troupe/actors";
import { systemClock } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { startSaga } from "../../src/index.js";
import { orderSaga, Shipping, Stock, Wallet } from "../saga-shop.js";

const [path, workerId, crashStep, orderJson] = process.argv.slice(2);
if (!path || !workerId || !crashStep || !orderJson)
  throw new Error("usage: <db> <worker> <step> <order>");

const store = createSqliteStore({ path });
const system: ActorSystem = createActorSystem({
  store,
  queue: createSqliteQueue({ path, clock: systemClock, queueName: "actors" }),
  actors: [Stock, Wallet, Shipping],
  nodeId: "shop",
});
const saga = orderSaga(() => system, {
  afterCall: async (step) => {
    if (step !== crashStep) return;
    process.stdout.write(`crash-point ${step}\n`);
    await new Promise(() => {}); // hang until SIGKILL
  },
});
const flows = createFlows({
  store,
  queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
  functions: [saga],
});
await flows.start({ workerId });
const { runId } = await startSaga(flows, saga, JSON.parse(orderJson));
process.stdout.write(`run ${runId}\n`);
