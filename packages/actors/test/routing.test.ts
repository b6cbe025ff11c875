import {
  createMemoryQueue,
  createMemoryStore,
  ManualClock,
  StoreConflictError,
  TroupeError,
} from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActorAddress,
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
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
  },
});

/** A directory whose answers the test scripts. */
class ScriptedDirectory implements ActorDirectory {
  readonly nodeId = "here";
  owners: string[] = [];
  claimFails = false;
  claims = 0;
  forgotten: ActorAddress[] = [];
  async locate(): Promise<Ownership> {
    const nodeId =
      this.owners.length > 1 ? (this.owners.shift() as string) : (this.owners[0] ?? "here");
    if (nodeId === "here") return { nodeId, epoch: 7 };
    return { nodeId, epoch: 0 };
  }
  async claim(address: ActorAddress): Promise<Ownership> {
    this.claims++;
    if (this.claimFails) throw new StoreConflictError(`dir/${address.type}/${address.key}`, 1, 2);
    return { nodeId: this.nodeId, epoch: 9 };
  }
  async release(): Promise<void> {}
  forget(address: ActorAddress): void {
    this.forgotten.push(address);
  }
  fence() {
    return [];
  }
  lost: ((addresses: readonly ActorAddress[]) => void) | undefined;
  onOwnershipLost(listener: (addresses: readonly ActorAddress[]) => void): () => void {
    this.lost = listener;
    return () => {
      this.lost = undefined;
    };
  }
  async close(): Promise<void> {}
}

/** Remoting that answers from a script and records what was sent where. */
class ScriptedRemoting implements ActorRemoting {
  sent: { nodeId: string; call: RemoteCall }[] = [];
  replies: RemoteReply[] = [];
  handler: ((call: RemoteCall) => Promise<RemoteReply>) | undefined;
  async send(nodeId: string, call: RemoteCall): Promise<RemoteReply> {
    this.sent.push({ nodeId, call });
    return this.replies.shift() ?? { kind: "moved" };
  }
  async listen(handler: (call: RemoteCall) => Promise<RemoteReply>): Promise<void> {
    this.handler = handler;
  }
  async close(): Promise<void> {}
}

describe("routing through a directory and remoting", () => {
  let system: ActorSystem | undefined;
  let directory: ScriptedDirectory;
  let remoting: ScriptedRemoting;

  function open(): ActorSystem {
    const clock = new ManualClock();
    directory = new ScriptedDirectory();
    remoting = new ScriptedRemoting();
    system = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue({ clock }),
      clock,
      actors: [Counter],
      directory,
      remoting,
    });
    return system;
  }

  afterEach(async () => {
    await system?.close();
  });

  it("sends calls for actors owned elsewhere, and follows a move", async () => {
    const actors = open();
    directory.owners = ["far", "farther"];
    remoting.replies = [{ kind: "moved" }, { kind: "ok", value: 41 }];
    expect(await actors.get(Counter, "c").increment(1)).toBe(41);
    expect(remoting.sent.map((entry) => entry.nodeId)).toEqual(["far", "farther"]);
    expect(remoting.sent[0]?.call).toMatchObject({
      address: { type: "Counter", key: "c" },
      action: "increment",
      args: [1],
      oneWay: false,
      chain: [],
    });
    expect(directory.forgotten).toEqual([{ type: "Counter", key: "c" }]);
    expect(actors.isActive({ type: "Counter", key: "c" })).toBe(false);
  });

  it("gives up with UNAVAILABLE when the actor keeps moving", async () => {
    const actors = open();
    directory.owners = ["far"];
    const error = await actors
      .get(Counter, "c")
      .increment(1)
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
    expect(remoting.sent.length).toBeLessThanOrEqual(6);
  });

  it("maps an error reply to a TroupeError with the remote code", async () => {
    const actors = open();
    directory.owners = ["far"];
    remoting.replies = [
      {
        kind: "error",
        error: { name: "TroupeError", message: "x: bad", code: "INVALID_ARGUMENT" },
      },
    ];
    const error = await actors
      .get(Counter, "c")
      .increment(1)
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as TroupeError).details).toMatchObject({ node: "far" });
  });

  it("activates locally with the epoch locate returned, without claiming again", async () => {
    const actors = open();
    expect(await actors.get(Counter, "mine").increment(2)).toBe(2);
    expect(directory.claims).toBe(0);
    expect(remoting.sent).toEqual([]);
  });

  it("runs incoming calls after claiming, and answers moved when another node holds the claim", async () => {
    open();
    const handler = remoting.handler;
    if (handler === undefined) throw new Error("the system did not listen");
    const call: RemoteCall = {
      address: { type: "Counter", key: "r" },
      action: "increment",
      args: [5],
      oneWay: false,
      chain: [],
      timeoutMs: 1000,
    };
    expect(await handler(call)).toEqual({ kind: "ok", value: 5 });
    expect(directory.claims).toBe(1);
    expect(await handler({ ...call, address: { type: "Counter", key: "r" } })).toEqual({
      kind: "ok",
      value: 10,
    });
    directory.claimFails = true;
    expect(await handler({ ...call, address: { type: "Counter", key: "elsewhere" } })).toEqual({
      kind: "moved",
    });
    expect(await handler({ ...call, action: "nope" })).toMatchObject({
      kind: "error",
      error: { code: "INVALID_ARGUMENT" },
    });
    expect(await handler({ ...call, address: { type: "Ghost", key: "g" } })).toMatchObject({
      kind: "error",
      error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/call\.address\.type/) },
    });
  });

  it("drops activations whose claims the directory reports lost", async () => {
    const actors = open();
    const counter = actors.get(Counter, "lost");
    expect(await counter.increment(1)).toBe(1);
    expect(actors.isActive(counter.address)).toBe(true);
    directory.lost?.([counter.address]);
    expect(actors.isActive(counter.address)).toBe(false);
    // The next call activates afresh from the Store (the earlier write is there).
    expect(await counter.increment(1)).toBe(2);
  });
});
