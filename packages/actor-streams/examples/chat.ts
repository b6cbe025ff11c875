// The README's example: an implicit consumer per chat room and a resumable handle.
// Run: npx tsx --conditions=source examples/chat.ts
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryPubSub, createMemoryQueue, createMemoryStore } from "@troupe/core";
import { z } from "zod";
import { createStreams, implicitSubscription, type StreamEvent } from "../src/index.js";

const Room = defineActor({
  name: "Room",
  key: "string",
  state: z.object({ lines: z.array(z.string()) }),
  initialState: () => ({ lines: [] }),
  actions: {
    onMessage(ctx, event: StreamEvent<{ text: string }>) {
      ctx.state.lines.push(`${event.seq}: ${event.data.text}`);
    },
    lines: { readOnly: true, handler: (ctx) => ctx.state.lines },
  },
});
const roomsReadChat = implicitSubscription(Room, { namespace: "chat", action: "onMessage" });

const store = createMemoryStore();
const pubsub = createMemoryPubSub();
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Room] });
const streams = createStreams({ store, pubsub, system, implicit: [roomsReadChat] });

const handle = await streams.subscribe("chat", "lobby", (event) => {
  console.log("handle", event.seq, event.data);
});
await streams.publish("chat", "lobby", { text: "hello" });
await streams.publish("chat", "lobby", { text: "anyone?" });
await new Promise((resolve) => setTimeout(resolve, 50));
await handle.unsubscribe();
await streams.publish("chat", "lobby", { text: "missed by the handle, not by the resume" });
const resumed = await streams.resume(handle.toJSON(), (event) => {
  console.log("resumed", event.seq, event.data);
});
await new Promise((resolve) => setTimeout(resolve, 50));
console.log(await system.get(Room, "lobby").lines());
await resumed.unsubscribe();
await streams.close();
await system.close();
await pubsub.close();
