import { createActorSystem } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createRespServer, RespKey } from "@troupe/resp";
import { Redis } from "ioredis";

const store = createMemoryStore();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [RespKey] });
const server = createRespServer({ system, store, pubsub: createMemoryPubSub(), token: "s3cret" });
const port = await server.listen(0); // any free port; 6380 under `troupe dev`
const redis = new Redis({ port, password: "s3cret" }); // or: redis-cli -p <port> -a s3cret
await redis.set("greeting", "hello");
console.log(await redis.get("greeting")); // hello (the state of the actor RespKey/greeting)
redis.disconnect();
await server.close();
await system.close(); // saves every key
