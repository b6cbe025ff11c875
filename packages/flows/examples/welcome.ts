import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows, createFunction } from "@troupe/flows";

const welcome = createFunction(
  { id: "welcome", triggers: [{ event: "user/created" }], retries: 3 },
  async ({ event, step }) => {
    const greeting = await step.run("greet", () => `Hello, ${event.data.name}!`);
    await step.sleep("pause", "1s"); // durable: survives restarts on a persistent store
    return step.run("shout", () => greeting.toUpperCase());
  },
);

const flows = createFlows({
  store: createMemoryStore(),
  queue: createMemoryQueue(),
  functions: [welcome],
});
await flows.start();
await flows.send({ name: "user/created", data: { name: "Ada" } });
await new Promise((resolve) => setTimeout(resolve, 1500));
const [run] = await flows.listRuns({ functionId: "welcome" });
console.log(run?.status, (await flows.getRun(run?.id ?? ""))?.output); // completed HELLO, ADA!
await flows.stop();
