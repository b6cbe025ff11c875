import { createActorSystem } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createRespServer, RespKey } from "../src/index.js";

// A RESP server on the memory ports, for trying clients by hand:
// npx tsx --conditions=source bench/serve.ts [port]
const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [RespKey] });
const server = createRespServer({ system, store, pubsub: createMemoryPubSub() });
const port = await server.listen(Number(process.argv[2] ?? 6390));
console.log(`listening on ${port}`);
process.on("SIGINT", () => process.exit(0));
