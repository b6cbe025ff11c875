import { createActorSystem } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createPgServer } from "@troupe/pgwire";
import pg from "pg";

const store = createMemoryStore();
const queue = createMemoryQueue();
const flows = createFlows({ store, queue, pubsub: createMemoryPubSub() });
const system = createActorSystem({ store, queue, actors: [] });
const server = createPgServer({ flows, system, store, token: "s3cret" });
const port = await server.listen(0); // any free port; 5433 under `troupe dev`
const client = new pg.Client({ host: "127.0.0.1", port, user: "troupe", password: "s3cret" });
await client.connect(); // or: PGPASSWORD=s3cret psql -h 127.0.0.1 -p <port> -U troupe troupe
await client.query("INSERT INTO events (name, data) VALUES ($1, $2)", ["app/hello", '{"n":1}']);
const { rows } = await client.query("SELECT name, data->>'n' AS n FROM events");
console.log(rows); // [ { name: 'app/hello', n: '1' } ]
await client.end();
await server.close();
await flows.close();
await system.close();
