import {
  type ActorSystem,
  type AnyActorDefinition,
  createActorSystem,
  defineActor,
} from "@troupe/actors";
import {
  createMemoryMetrics,
  createMemoryPubSub,
  createMemoryQueue,
  type PubSub,
  type Store,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createStreams,
  implicitSubscription,
  type StreamEvent,
  type Streams,
  type StreamsOptions,
} from "../src/index.js";

/** One "process": its own PubSub connection (and Store connection where the engine has one). */
export interface Process {
  readonly store: Store;
  readonly pubsub: PubSub;
}

/** The engines a suite runs on. */
export interface Engines {
  /** A fresh, empty namespace of storage; `process()` opens one more process on it. */
  open(): Promise<{ process(): Promise<Process>; close(): Promise<void> }>;
}

/** Seqs whose first delivery fails, as if the consumer's node crashed mid-turn. */
const crashOnce = new Set<number>();

const Inbox = defineActor({
  name: "Inbox",
  key: "string",
  state: z.object({ seen: z.array(z.number().int()), data: z.array(z.unknown()) }),
  initialState: () => ({ seen: [], data: [] }),
  actions: {
    onEvent(ctx, event: StreamEvent) {
      if (crashOnce.delete(event.seq)) throw new Error(`consumer crashed at ${event.seq}`);
      ctx.state.seen.push(event.seq);
      ctx.state.data.push(event.data);
    },
    seen: { readOnly: true, handler: (ctx) => ctx.state.seen },
  },
});
const inboxFeed = implicitSubscription(Inbox, { namespace: "feed", action: "onEvent" });

/** An actor type whose `take` action records each delivered event's seq in `into` (no state). */
export function recordingActor<const N extends string>(name: N, into: number[]) {
  return defineActor({
    name,
    key: "string",
    state: z.object({}),
    initialState: () => ({}),
    saveMode: "explicit",
    actions: {
      take(_ctx, event: StreamEvent) {
        into.push(event.seq);
      },
    },
  });
}

/** `inner` with its commits passed through `commit` (to count, hold or fail them); reads go to `inner`. */
export function interceptCommits(
  inner: Store,
  name: string,
  commit: (ops: readonly StoreOp[], next: Store["commit"]) => ReturnType<Store["commit"]>,
): Store {
  return {
    ...inner,
    name,
    get: (key) => inner.get(key),
    getMany: (keys) => inner.getMany(keys),
    list: (options) => inner.list(options),
    close: async () => {},
    commit: async (ops) => commit(ops, (next) => inner.commit(next)),
  };
}

/**
 * Streams on a memory PubSub and an actor system over `store`, with `actor` subscribed
 * implicitly to `namespace` through `action`; `close` closes the three.
 */
export function actorStreams(
  store: Store,
  actor: AnyActorDefinition,
  feed: { readonly namespace: string; readonly action: string },
  options: Omit<StreamsOptions, "store" | "pubsub" | "system" | "implicit"> = {},
) {
  const pubsub = createMemoryPubSub();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [actor] });
  const streams = createStreams({
    store,
    pubsub,
    system,
    implicit: [implicitSubscription(actor, feed)],
    sweepMs: 0,
    ...options,
  });
  const close = async () => {
    await streams.close();
    await system.close();
    await pubsub.close();
  };
  return { streams, system, pubsub, close };
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 8_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function describeStreams(name: string, engines: Engines) {
  describe(`streams on ${name}`, () => {
    const setup = async (extra: Partial<StreamsOptions> = {}) => {
      const storage = await engines.open();
      const opened: { streams: Streams; system?: ActorSystem }[] = [];
      const node = async (options: { actors?: boolean } & Partial<StreamsOptions> = {}) => {
        const { actors, ...rest } = options;
        const proc = await storage.process();
        const system = actors
          ? createActorSystem({ store: proc.store, queue: createMemoryQueue(), actors: [Inbox] })
          : undefined;
        const streams = createStreams({
          store: proc.store,
          pubsub: proc.pubsub,
          sweepMs: 0,
          retryMs: 50,
          ...(system ? { system, implicit: [inboxFeed] } : {}),
          ...extra,
          ...rest,
        });
        opened.push({ streams, ...(system ? { system } : {}) });
        return { streams, system, proc };
      };
      const close = async () => {
        for (const each of opened) {
          await each.streams.close();
          await each.system?.close();
        }
        await storage.close();
      };
      return { node, close };
    };

    it("a subscriber that disconnects and resumes from its handle misses nothing, in order", async () => {
      const env = await setup();
      try {
        const { streams } = await env.node();
        const first: number[] = [];
        const handle = await streams.subscribe("chat", "room-1", (event) => {
          first.push(event.seq);
        });
        for (let i = 1; i <= 20; i++) await streams.publish("chat", "room-1", { i });
        await waitFor(() => first.length === 20, "20 events");
        await handle.unsubscribe();
        expect(await handle.ended).toBeUndefined();
        const saved = handle.toJSON();
        expect(saved.position).toBe(20);
        // Published while nobody listens.
        for (let i = 21; i <= 45; i++) await streams.publish("chat", "room-1", { i });
        const second: StreamEvent[] = [];
        const resumed = await streams.resume(saved, (event) => {
          second.push(event);
        });
        for (let i = 46; i <= 60; i++) await streams.publish("chat", "room-1", { i });
        await waitFor(() => second.length === 40, "40 resumed events");
        expect(first).toEqual(range(1, 20));
        expect(second.map((event) => event.seq)).toEqual(range(21, 60));
        expect(second.map((event) => (event.data as { i: number }).i)).toEqual(range(21, 60));
        expect(resumed.position).toBe(60);
      } finally {
        await env.close();
      }
    });

    it("a handler that fails ends the handle at the last finished event; resuming redelivers it", async () => {
      const env = await setup();
      try {
        const { streams } = await env.node();
        const got: number[] = [];
        const handle = await streams.subscribe(
          "chat",
          "room-2",
          (event) => {
            if (event.seq === 4) throw new Error("client went away");
            got.push(event.seq);
          },
          { after: 0 },
        );
        for (let i = 1; i <= 6; i++) await streams.publish("chat", "room-2", i);
        const error = await handle.ended;
        expect(error?.message).toBe("client went away");
        expect(handle.position).toBe(3);
        const again: number[] = [];
        await streams.resume(handle.toJSON(), (event) => {
          again.push(event.seq);
        });
        await waitFor(() => again.length === 3, "redelivery");
        expect([...got, ...again]).toEqual(range(1, 6));
      } finally {
        await env.close();
      }
    });

    it("two publishing processes get gap-free sequence numbers and one subscriber sees them in order", async () => {
      const env = await setup();
      try {
        const a = await env.node();
        const b = await env.node();
        const c = await env.node();
        const seen: StreamEvent[] = [];
        await c.streams.subscribe("ticks", "t", (event) => {
          seen.push(event);
        });
        await Promise.all([
          ...range(1, 30).map((i) => a.streams.publish("ticks", "t", { from: "a", i })),
          ...range(1, 30).map((i) => b.streams.publish("ticks", "t", { from: "b", i })),
        ]);
        await waitFor(() => seen.length === 60, "60 events");
        expect(seen.map((event) => event.seq)).toEqual(range(1, 60));
        // Each publisher's own events keep the order it published them in.
        for (const from of ["a", "b"]) {
          const mine = seen
            .map((event) => event.data as { from: string; i: number })
            .filter((data) => data.from === from)
            .map((data) => data.i);
          expect(mine).toEqual(range(1, 30));
        }
      } finally {
        await env.close();
      }
    });

    it("lost announcements are filled from the Store", async () => {
      const env = await setup();
      try {
        const { streams, proc } = await env.node();
        // A publisher whose announcements are mostly lost (as while a PubSub link is down).
        let n = 0;
        const lossy: PubSub = {
          name: "lossy",
          publish: (channel, message) =>
            n++ % 3 === 0 ? proc.pubsub.publish(channel, message) : Promise.resolve(),
          subscribe: (channel, handler) => proc.pubsub.subscribe(channel, handler),
          close: async () => {},
        };
        const publisher = createStreams({ store: proc.store, pubsub: lossy, sweepMs: 0 });
        const seen: number[] = [];
        await streams.subscribe("ticks", "lossy", (event) => {
          seen.push(event.seq);
        });
        for (let i = 1; i <= 30; i++) await publisher.publish("ticks", "lossy", i);
        await publisher.close();
        await waitFor(() => seen.length >= 28, "events up to the last announced one");
        expect(seen).toEqual(range(1, seen.length));
      } finally {
        await env.close();
      }
    });

    it("an implicit subscription activates the consumer actor, which gets every event in order", async () => {
      const env = await setup();
      try {
        const { streams, system } = await env.node({ actors: true });
        for (let i = 1; i <= 10; i++) await streams.publish("feed", "alice", { i });
        await streams.publish("feed", "bob", { i: 1 });
        const alice = system?.get(Inbox, "alice");
        await waitFor(async () => (await alice?.seen())?.length === 10, "alice's 10 events");
        expect(await alice?.seen()).toEqual(range(1, 10));
        await waitFor(async () => (await system?.get(Inbox, "bob").seen())?.length === 1, "bob");
        expect(
          system
            ?.listActivations()
            .map((each) => each.key)
            .sort(),
        ).toEqual(["alice", "bob"]);
      } finally {
        await env.close();
      }
    });

    it("at least once across a consumer crash: the failed event is redelivered, order kept", async () => {
      const env = await setup();
      const metrics = createMemoryMetrics();
      try {
        const { streams, system } = await env.node({ actors: true, metrics });
        crashOnce.add(3);
        for (let i = 1; i <= 6; i++) await streams.publish("feed", "carol", i);
        const carol = system?.get(Inbox, "carol");
        await waitFor(async () => (await carol?.seen())?.length === 6, "carol's 6 events");
        expect(await carol?.seen()).toEqual(range(1, 6));
        expect(
          metrics.value("troupe_stream_delivery_failures_total", {
            namespace: "feed",
            consumer: "Inbox",
          }),
        ).toBe(1);
        await waitFor(
          () => metrics.value("troupe_stream_lag", { namespace: "feed", consumer: "Inbox" }) === 0,
          "lag 0",
        );
      } finally {
        crashOnce.clear();
        await env.close();
      }
    });

    it("events stored by a publisher that died before delivering reach the consumer through the sweep", async () => {
      const env = await setup();
      try {
        // The publisher runs no actors: it stores and announces, and never delivers.
        const publisher = await env.node();
        for (let i = 1; i <= 5; i++) await publisher.streams.publish("feed", "dave", i);
        await publisher.streams.close();
        const survivor = await env.node({ actors: true });
        await survivor.streams.sweep();
        const dave = survivor.system?.get(Inbox, "dave");
        await waitFor(async () => (await dave?.seen())?.length === 5, "dave's 5 events");
        expect(await dave?.seen()).toEqual(range(1, 5));
      } finally {
        await env.close();
      }
    });

    it("an explicit actor subscription delivers from its start until unsubscribed", async () => {
      const env = await setup();
      try {
        const { streams, system } = await env.node({ actors: true });
        await streams.publish("news", "n1", "before");
        const erin = system?.get(Inbox, "erin");
        if (erin === undefined) throw new Error("no system");
        const sub = await streams.subscribeActor("news", "n1", { actor: erin, action: "onEvent" });
        await streams.publish("news", "n1", "two");
        await streams.publish("news", "n1", "three");
        await waitFor(async () => (await erin.seen()).length === 2, "two events");
        await streams.unsubscribeActor(sub);
        await streams.publish("news", "n1", "four");
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await erin.seen()).toEqual([2, 3]);
        await expect(
          streams.subscribeActor("news", "n1", { actor: erin, action: "nope" }),
        ).rejects.toThrow(/^action: /);
      } finally {
        await env.close();
      }
    });

    it("retention keeps the last maxEvents; resuming before them is STREAM_TRIMMED unless skipped", async () => {
      const env = await setup({ maxEvents: 5 });
      try {
        const { streams } = await env.node();
        // A live handle first: once it has seen the last event, no announcement of an older
        // one is still on its way to this process (a PubSub may flush publishes late, and a
        // subscriber would then rightly get events the Store no longer keeps).
        const live: number[] = [];
        await streams.subscribe("ticks", "r", (event) => void live.push(event.seq));
        for (let i = 1; i <= 12; i++) await streams.publish("ticks", "r", i);
        await waitFor(() => live.length === 12, "the live handle's 12 events");
        expect(await streams.firstRetained("ticks", "r")).toBe(8);
        expect((await streams.read("ticks", "r", 0)).map((event) => event.seq)).toEqual(
          range(8, 12),
        );
        const failing = await streams.subscribe("ticks", "r", () => {}, { after: 2 });
        const error = await failing.ended;
        expect(TroupeError.isInstance(error, "STREAM_TRIMMED")).toBe(true);
        const seen: number[] = [];
        await streams.subscribe("ticks", "r", (event) => void seen.push(event.seq), {
          after: 2,
          ifTrimmed: "skip",
        });
        await waitFor(() => seen.length === 5, "retained events");
        expect(seen).toEqual(range(8, 12));
        // Publishes issued together go in one commit; retention still keeps exactly the last 5.
        const together = await Promise.all(
          range(1, 20).map((i) => streams.publish("ticks", "g", i)),
        );
        expect(together.map((event) => event.seq)).toEqual(range(1, 20));
        expect(together.map((event) => event.data)).toEqual(range(1, 20));
        expect((await streams.read("ticks", "g", 0)).map((event) => event.seq)).toEqual(
          range(16, 20),
        );
      } finally {
        await env.close();
      }
    });

    it("bad input is a named INVALID_ARGUMENT and publishes nothing", async () => {
      const env = await setup({ maxEventBytes: 1_000 });
      try {
        const { streams } = await env.node();
        await expect(streams.publish(42 as never, "k", 1)).rejects.toThrow(
          /^namespace: expected a string, got 42/,
        );
        await expect(streams.publish("ns", "a b", 1)).rejects.toThrow(/^key: /);
        await expect(streams.subscribe("ns", "k", () => {}, { after: -1 })).rejects.toThrow(
          /^after: expected a non-negative integer/,
        );
        await expect(streams.publish("ns", "k", "x".repeat(2_000))).rejects.toMatchObject({
          code: "EVENT_TOO_LARGE",
        });
        expect(await streams.head("ns", "k")).toBe(0);
      } finally {
        await env.close();
      }
    });
  });
}
