import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActorDirectory,
  type ActorRemoting,
  type ActorSystem,
  createActorSystem,
  defineActor,
  type Ownership,
  type RemoteCall,
  type RemoteReply,
} from "../src/index.js";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number() }),
  initialState: () => ({ count: 0 }),
  actions: { increment: (ctx, by: number) => (ctx.state.count += by) },
});

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** A directory whose lookups the test answers one by one. */
class SteppedDirectory implements ActorDirectory {
  readonly nodeId = "here";
  readonly lookups: ReturnType<typeof deferred<Ownership>>[] = [];
  locate(): Promise<Ownership> {
    const lookup = deferred<Ownership>();
    this.lookups.push(lookup);
    return lookup.promise;
  }
  async claim(): Promise<Ownership> {
    return { nodeId: this.nodeId, epoch: 1 };
  }
  async release(): Promise<void> {}
  forget(): void {}
  fence() {
    return [];
  }
  async close(): Promise<void> {}
}

/** Remoting whose replies the test gives, per call, in order. */
class SteppedRemoting implements ActorRemoting {
  readonly sent: {
    nodeId: string;
    call: RemoteCall;
    reply: ReturnType<typeof deferred<RemoteReply>>;
  }[] = [];
  send(nodeId: string, call: RemoteCall): Promise<RemoteReply> {
    const reply = deferred<RemoteReply>();
    this.sent.push({ nodeId, call, reply });
    return reply.promise;
  }
  async listen(): Promise<void> {}
  async close(): Promise<void> {}
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe("a call told that its actor moved", () => {
  let system: ActorSystem | undefined;
  afterEach(async () => {
    await system?.close();
  });

  it("looks the owner up afresh, not in a lookup that started before the move", async () => {
    const clock = new ManualClock();
    const directory = new SteppedDirectory();
    const remoting = new SteppedRemoting();
    system = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue({ clock }),
      clock,
      actors: [Counter],
      directory,
      remoting,
    });
    const first = system.get(Counter, "c").increment(1);
    await settle();
    directory.lookups[0]?.resolve({ nodeId: "old", epoch: 0 });
    await settle();
    expect(remoting.sent.map((entry) => entry.nodeId)).toEqual(["old"]);

    // A second call starts a lookup while the first waits for "old"'s answer…
    const second = system.get(Counter, "c").increment(2);
    await settle();
    expect(directory.lookups).toHaveLength(2);
    // …then "old" says the actor moved: the first call must not wait for that older lookup.
    remoting.sent[0]?.reply.resolve({ kind: "moved" });
    await settle();
    expect(directory.lookups).toHaveLength(3);
    directory.lookups[1]?.resolve({ nodeId: "old", epoch: 0 }); // read before the move
    directory.lookups[2]?.resolve({ nodeId: "new", epoch: 0 });
    await settle();
    const firstCall = remoting.sent.find(
      (entry) => entry.nodeId === "new" && entry.call.args[0] === 1,
    );
    firstCall?.reply.resolve({ kind: "ok", value: 1 });
    expect(await first).toBe(1);
    // The second call, sent to "old" on its stale lookup, is told it moved and follows too.
    remoting.sent
      .find((entry) => entry.nodeId === "old" && entry.call.args[0] === 2)
      ?.reply.resolve({
        kind: "moved",
      });
    await settle();
    directory.lookups[3]?.resolve({ nodeId: "new", epoch: 0 });
    await settle();
    remoting.sent
      .find((entry) => entry.nodeId === "new" && entry.call.args[0] === 2)
      ?.reply.resolve({ kind: "ok", value: 3 });
    expect(await second).toBe(3);
    // The first call went to "old" once: it never followed the stale lookup back there.
    expect(
      remoting.sent.filter((entry) => entry.nodeId === "old" && entry.call.args[0] === 1),
    ).toHaveLength(1);
  });
});
