import {
  createMemoryMetrics,
  type LogFields,
  type Logger,
  ManualClock,
  type Queue,
  type Store,
  TroupeError,
} from "@troupe/core";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActorRefJson,
  type ActorSystem,
  type ActorSystemOptions,
  createActorSystem,
  defineActor,
} from "../src/index.js";

/** The ports one test runs on. */
export interface CorePorts {
  readonly store: Store;
  readonly queue: Queue;
  /** Closes the ports and removes what the test wrote. */
  close(): Promise<void>;
}

/** Opens fresh ports for one test; the queue must run on `clock`. */
export type CorePortsFactory = (clock: ManualClock) => Promise<CorePorts>;

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets promise callbacks (and in-memory or embedded I/O) run. */
async function settle(clock: ManualClock): Promise<void> {
  await clock.advance(0);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return TroupeError.isInstance(error) ? error.code : `not a TroupeError: ${String(error)}`;
  }
}

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int().nonnegative() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    fail(ctx) {
      ctx.state.count += 1000;
      throw new Error("boom");
    },
    breakState(ctx) {
      ctx.state.count = -1;
    },
    add: {
      args: z.tuple([z.number().int()]),
      handler: (ctx, by: number) => {
        ctx.state.count += by;
        return ctx.state.count;
      },
    },
  },
});

/** Gates let a test hold a turn open and see what runs meanwhile. */
const gates = new Map<string, Gate>();
const log: string[] = [];

const Probe = defineActor({
  name: "Probe",
  key: "integer",
  state: z.object({ value: z.number(), writes: z.number() }),
  initialState: () => ({ value: 0, writes: 0 }),
  mailboxSize: 3,
  callTimeoutMs: 1000,
  actions: {
    async write(ctx, name: string, value: number) {
      log.push(`start ${name}`);
      await gates.get(name)?.promise;
      ctx.state.value = value;
      ctx.state.writes += 1;
      log.push(`end ${name}`);
      return value;
    },
    read: {
      readOnly: true,
      handler: async (ctx, name: string) => {
        log.push(`start ${name}`);
        await gates.get(name)?.promise;
        log.push(`end ${name}`);
        return ctx.state.value;
      },
    },
    peek: { interleave: true, readOnly: true, handler: (ctx) => ctx.state.value },
  },
});

/** A → B → A: ping asks Pong to call back, which must run inside ping's turn. */
const Ping = defineActor({
  name: "Ping",
  key: "string",
  state: z.object({ hits: z.number() }),
  initialState: () => ({ hits: 0 }),
  callTimeoutMs: 500,
  actions: {
    async ping(ctx): Promise<string> {
      ctx.state.hits += 1;
      const reply = await ctx.get(Pong, "p").pong(ctx.self.toJSON());
      return `${reply} after ${ctx.state.hits}`;
    },
    echo(ctx) {
      ctx.state.hits += 10;
      return "echo";
    },
    async pingWithoutChain(ctx): Promise<string | undefined> {
      // A reference from outside the turn carries no call chain: the call back has to wait.
      return ctx.get(Pong, "p").pongDetached(ctx.key);
    },
  },
});

let detachedSystem: ActorSystem | undefined;

const Pong = defineActor({
  name: "Pong",
  key: "string",
  state: z.object({}),
  initialState: () => ({}),
  callTimeoutMs: 500,
  actions: {
    async pong(ctx, caller: ActorRefJson): Promise<string> {
      return `pong+${String(await ctx.ref(caller).call("echo"))}`;
    },
    async pongDetached(_ctx, key: string): Promise<string | undefined> {
      return detachedSystem?.get(Ping, key).echo();
    },
  },
});

const Lifecycle = defineActor({
  name: "Lifecycle",
  key: "none",
  state: z.object({
    activations: z.number(),
    deactivations: z.number(),
    ticks: z.number(),
    lastReason: z.string(),
  }),
  initialState: () => ({ activations: 0, deactivations: 0, ticks: 0, lastReason: "" }),
  idleTimeoutMs: 1000,
  onActivate(ctx) {
    ctx.state.activations += 1;
  },
  onDeactivate(ctx, reason) {
    ctx.state.deactivations += 1;
    ctx.state.lastReason = reason;
  },
  actions: {
    read: { readOnly: true, handler: (ctx) => ({ ...ctx.state }) },
    startTicking(ctx, periodMs: number) {
      ctx.setTimer({ afterMs: periodMs, periodMs }, (tick) => {
        tick.state.ticks += 1;
      });
    },
    leave(ctx) {
      ctx.deactivate();
    },
  },
});

const Alarm = defineActor({
  name: "Alarm",
  key: "string",
  state: z.object({ rang: z.array(z.number()), note: z.string() }),
  initialState: () => ({ rang: [], note: "" }),
  actions: {
    async arm(ctx, afterMs: number, periodMs?: number) {
      await ctx.setReminder("ring", periodMs === undefined ? { afterMs } : { afterMs, periodMs });
    },
    async disarm(ctx) {
      await ctx.clearReminder("ring");
    },
    async armSlow(ctx, afterMs: number) {
      await ctx.setReminder("slow", { afterMs });
    },
    async armUnknown(ctx) {
      await ctx.setReminder("nope", { afterMs: 1 });
    },
    read: { readOnly: true, handler: (ctx) => ctx.state.rang },
  },
  reminders: {
    ring(ctx, firing) {
      ctx.state.rang.push(firing.dueAt);
    },
    async slow(ctx, firing) {
      ctx.state.rang.push(firing.attempt);
      await gates.get("slow reminder")?.promise;
    },
  },
});

const Notes = defineActor({
  name: "Notes",
  key: "string",
  saveMode: "explicit",
  state: z.object({ lines: z.array(z.string()) }),
  initialState: () => ({ lines: [] }),
  actions: {
    add(ctx, line: string) {
      ctx.state.lines.push(line);
    },
    async commit(ctx) {
      await ctx.save();
    },
    read: { readOnly: true, handler: (ctx) => ctx.state.lines.slice() },
  },
});

const ALL = [Counter, Probe, Ping, Pong, Lifecycle, Alarm, Notes];

/**
 * The single-node core suite: every timing rule on a ManualClock. Each adapter runs it with a
 * factory (memory, SQLite).
 */
export function describeActorCore(name: string, factory: CorePortsFactory): void {
  describe(`actor system core (${name})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    let clock: ManualClock;
    let ports: CorePorts;

    async function open(): Promise<void> {
      clock = new ManualClock();
      ports = await factory(clock);
      cleanups.push(() => ports.close());
    }

    function system(options: Partial<ActorSystemOptions> = {}): ActorSystem {
      const created = createActorSystem({
        store: ports.store,
        queue: ports.queue,
        clock,
        actors: ALL,
        ...options,
      });
      cleanups.unshift(() => created.close());
      return created;
    }

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      gates.clear();
      log.length = 0;
      detachedSystem = undefined;
    });

    it("runs one turn at a time, in arrival order, whatever the mix of callers", async () => {
      await open();
      const actors = system();
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ blocked: fc.boolean(), value: fc.integer() }), {
            minLength: 1,
            maxLength: 12,
          }),
          async (calls) => {
            log.length = 0;
            gates.clear();
            const probe = actors.get(Probe, 1);
            const replies: Promise<unknown>[] = [];
            // Three at a time: the mailbox holds three.
            for (let start = 0; start < calls.length; start += 3) {
              const batch = calls.slice(start, start + 3).map((call, offset) => {
                const label = `w${start + offset}`;
                if (call.blocked) gates.set(label, gate());
                return probe.write(label, call.value);
              });
              replies.push(...batch);
              for (const [, held] of gates) held.open();
              await Promise.all(batch);
            }
            const labels = calls.map((_, index) => `w${index}`);
            expect(log).toEqual(labels.flatMap((label) => [`start ${label}`, `end ${label}`]));
            expect(await Promise.all(replies)).toEqual(calls.map((call) => call.value));
            expect(await probe.read("r")).toBe(calls[calls.length - 1]?.value);
          },
        ),
        { numRuns: 25 },
      );
    });

    it("queues concurrent callers behind a running turn and answers each in order", async () => {
      await open();
      const probe = system().get(Probe, 2);
      gates.set("a", gate());
      const first = probe.write("a", 1);
      const second = probe.write("b", 2);
      const third = probe.write("c", 3);
      await settle(clock);
      expect(log).toEqual(["start a"]);
      gates.get("a")?.open();
      expect(await Promise.all([first, second, third])).toEqual([1, 2, 3]);
      expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    });

    it("runs read-only turns together, but never beside a write", async () => {
      await open();
      const probe = system().get(Probe, 3);
      await probe.write("init", 7);
      log.length = 0;
      gates.set("r1", gate());
      gates.set("r2", gate());
      gates.set("w", gate());
      const r1 = probe.read("r1");
      const r2 = probe.read("r2");
      const w = probe.write("w", 8);
      const r3 = probe.read("r3");
      await settle(clock);
      expect(log).toEqual(["start r1", "start r2"]);
      gates.get("r2")?.open();
      gates.get("r1")?.open();
      await settle(clock);
      expect(log.slice(4)).toEqual(["start w"]);
      gates.get("w")?.open();
      expect(await Promise.all([r1, r2, w, r3])).toEqual([7, 7, 8, 8]);
      expect(log.slice(-3)).toEqual(["end w", "start r3", "end r3"]);
    });

    it("runs interleaving actions while a write turn is held", async () => {
      await open();
      const probe = system().get(Probe, 4);
      await probe.write("init", 5);
      gates.set("w", gate());
      const w = probe.write("w", 6);
      await settle(clock);
      expect(await probe.peek()).toBe(5);
      gates.get("w")?.open();
      expect(await w).toBe(6);
    });

    it("lets a call chain re-enter: A → B → A completes instead of deadlocking", async () => {
      await open();
      const actors = system();
      expect(await actors.get(Ping, "a").ping()).toBe("pong+echo after 11");
      expect(await actors.get(Ping, "a").ping()).toBe("pong+echo after 22");
    });

    it("times out a call back that does not carry the chain (code TIMEOUT)", async () => {
      await open();
      const actors = system();
      detachedSystem = actors;
      const reply = codeOf(actors.get(Ping, "d").pingWithoutChain());
      await clock.advance(500);
      expect(await reply).toBe("TIMEOUT");
      // The actor is usable again once the stuck turn ends.
      await clock.advance(500);
      expect(await actors.get(Ping, "d").echo()).toBe("echo");
    });

    it("rejects calls beyond the mailbox bound with MAILBOX_FULL", async () => {
      await open();
      const probe = system().get(Probe, 5);
      await probe.read("warm");
      gates.set("hold", gate());
      const held = probe.write("hold", 1);
      const queued = [probe.write("q1", 2), probe.write("q2", 3), probe.write("q3", 4)];
      const rejected = probe.write("q4", 5);
      const error = await rejected.catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "MAILBOX_FULL")).toBe(true);
      expect(String((error as Error).message)).toMatch(
        /Probe\/5: mailbox full \(3 calls waiting\)/,
      );
      gates.get("hold")?.open();
      expect(await Promise.all([held, ...queued])).toEqual([1, 2, 3, 4]);
    });

    it("times out queued and running calls on the clock", async () => {
      await open();
      const probe = system().get(Probe, 6);
      await probe.read("warm");
      gates.set("slow", gate());
      const running = codeOf(probe.write("slow", 1));
      const queued = codeOf(probe.write("next", 2));
      await clock.advance(999);
      await settle(clock);
      expect(log).toEqual(["start warm", "end warm", "start slow"]);
      await clock.advance(1);
      expect(await running).toBe("TIMEOUT");
      expect(await queued).toBe("TIMEOUT");
      gates.get("slow")?.open();
      await settle(clock);
      // The timed-out queued call never ran.
      expect(log).not.toContain("start next");
      expect(await probe.read("after")).toBe(1);
    });

    it("saves after a turn that changed the state, and only then", async () => {
      await open();
      const actors = system();
      const counter = actors.get(Counter, "saved");
      await counter.increment(3);
      const writesBefore = (await ports.store.get("actors/state/Counter/saved"))?.version;
      expect(writesBefore).toBeDefined();
      await counter.get();
      await counter.increment(0);
      expect((await ports.store.get("actors/state/Counter/saved"))?.version).toBe(writesBefore);
      await actors.close();
      const again = system();
      expect(await again.get(Counter, "saved").get()).toBe(3);
    });

    it("serves read-only calls and unchanged write turns without touching the Store", async () => {
      await open();
      let storeCalls = 0;
      const counted = new Proxy(ports.store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            storeCalls++;
            return (value as (...inner: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const counter = system({ store: counted }).get(Counter, "hot");
      await counter.increment(1);
      const afterActivation = storeCalls;
      for (let i = 0; i < 100; i++) {
        await counter.get();
        await counter.increment(0);
      }
      expect(storeCalls).toBe(afterActivation);
      await counter.increment(1);
      expect(storeCalls).toBe(afterActivation + 1);
    });

    it("rolls a failed turn back, and rejects a turn that leaves invalid state", async () => {
      await open();
      const counter = system().get(Counter, "rollback");
      await counter.increment(2);
      await expect(counter.fail()).rejects.toThrow("boom");
      expect(await counter.get()).toBe(2);
      const error = await counter.breakState().catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toMatch(/state after "breakState"\.count/);
      expect(await counter.get()).toBe(2);
    });

    it("checks stored state on load, naming the field, and activates once it is fixed", async () => {
      await open();
      const key = "actors/state/Counter/corrupt";
      await ports.store.commit([
        { type: "set", key, value: new TextEncoder().encode('{"count":"many"}') },
      ]);
      const counter = system().get(Counter, "corrupt");
      await expect(counter.get()).rejects.toThrow(/Counter\/corrupt stored state\.count: /);
      await ports.store.commit([
        { type: "set", key, value: new TextEncoder().encode('{"count":4}') },
      ]);
      expect(await counter.get()).toBe(4);
    });

    it("writes explicit-mode state only on ctx.save()", async () => {
      await open();
      const actors = system();
      const notes = actors.get(Notes, "n");
      await notes.add("one");
      await notes.commit();
      await notes.add("two");
      expect(await notes.read()).toEqual(["one", "two"]);
      await actors.close();
      expect(await system().get(Notes, "n").read()).toEqual(["one"]);
    });

    it("answers concurrent calls with running totals in arrival order; failed turns leave no trace", async () => {
      await open();
      const actors = system();
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: -5, max: 20 }), { maxLength: 40 }),
          async (steps) => {
            const counter = actors.get(Counter, `prop${round++}`);
            // Negative steps are refused by the state schema (count must stay >= 0) or by `fail`.
            const replies = await Promise.allSettled(
              steps.map((step) => (step === 0 ? counter.fail() : counter.increment(step))),
            );
            let total = 0;
            const expected = steps.map((step) => {
              if (step === 0 || total + step < 0) return "rejected";
              total += step;
              return total;
            });
            expect(
              replies.map((reply) => (reply.status === "fulfilled" ? reply.value : "rejected")),
            ).toEqual(expected);
            expect(await counter.get()).toBe(total);
          },
        ),
        { numRuns: 30 },
      );
    });

    it("keeps every acknowledged change through idle deactivations and restarts (model check)", async () => {
      await open();
      let actors = system({ idleSweepMs: 1000 });
      const keys = ["a", "b", "c"];
      const step = fc.oneof(
        fc.record({
          kind: fc.constant("add" as const),
          key: fc.constantFrom(...keys),
          by: fc.nat(9),
        }),
        fc.record({ kind: fc.constant("fail" as const), key: fc.constantFrom(...keys) }),
        fc.record({
          kind: fc.constant("idle" as const),
          ms: fc.constantFrom(1000, 600_000, 700_000),
        }),
        fc.record({ kind: fc.constant("restart" as const) }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
          const prefix = `model${run++}-`;
          const model = new Map<string, number>();
          for (const action of steps) {
            if (action.kind === "add") {
              const reply = await actors.get(Counter, prefix + action.key).increment(action.by);
              model.set(action.key, (model.get(action.key) ?? 0) + action.by);
              expect(reply).toBe(model.get(action.key));
            } else if (action.kind === "fail") {
              await expect(actors.get(Counter, prefix + action.key).fail()).rejects.toThrow("boom");
            } else if (action.kind === "idle") {
              await clock.advance(action.ms);
            } else {
              await actors.close();
              actors = system({ idleSweepMs: 1000 });
            }
          }
          for (const key of keys) {
            expect(await actors.get(Counter, prefix + key).get()).toBe(model.get(key) ?? 0);
          }
        }),
        { numRuns: 20 },
      );
    });

    it("gives exactly 10,000 after 10,000 concurrent increments", async () => {
      await open();
      const actors = system();
      const counter = actors.get(Counter, "busy");
      const replies = await Promise.all(Array.from({ length: 10_000 }, () => counter.increment(1)));
      expect(new Set(replies).size).toBe(10_000);
      expect(Math.max(...replies)).toBe(10_000);
      await actors.close();
      expect(await system().get(Counter, "busy").get()).toBe(10_000);
    });

    it("deactivates idle actors (onDeactivate, save) and re-activates them on the next call", async () => {
      await open();
      const actors = system();
      const lifecycle = actors.get(Lifecycle);
      expect(await lifecycle.read()).toEqual({
        activations: 1,
        deactivations: 0,
        ticks: 0,
        lastReason: "",
      });
      await clock.advance(999);
      expect(actors.isActive(lifecycle.address)).toBe(true);
      await clock.advance(1000);
      expect(actors.isActive(lifecycle.address)).toBe(false);
      expect(await lifecycle.read()).toEqual({
        activations: 2,
        deactivations: 1,
        ticks: 0,
        lastReason: "idle",
      });
      await lifecycle.leave();
      await settle(clock);
      expect(actors.isActive(lifecycle.address)).toBe(false);
      expect(await lifecycle.read()).toEqual({
        activations: 3,
        deactivations: 2,
        ticks: 0,
        lastReason: "requested",
      });
    });

    it("keeps calling actors active, however long they live", async () => {
      await open();
      const actors = system();
      const lifecycle = actors.get(Lifecycle);
      for (let i = 0; i < 10; i++) {
        await lifecycle.read();
        await clock.advance(400);
      }
      expect(await lifecycle.read()).toMatchObject({ activations: 1, deactivations: 0 });
    });

    it("fires volatile timers as turns, and stops them with the activation", async () => {
      await open();
      const actors = system();
      const lifecycle = actors.get(Lifecycle);
      await lifecycle.startTicking(100);
      await clock.advance(350);
      expect((await lifecycle.read()).ticks).toBe(3);
      // Timer firings do not count as activity: the actor is idle-deactivated, timer and all.
      await clock.advance(2000);
      expect(actors.isActive(lifecycle.address)).toBe(false);
      const ticks = (await lifecycle.read()).ticks;
      await clock.advance(500);
      expect((await lifecycle.read()).ticks).toBe(ticks);
    });

    it("fires durable reminders, re-activating the actor, even after a restart", async () => {
      await open();
      const first = system();
      const start = clock.now();
      await first.get(Alarm, "wake").arm(5000);
      await first.close();
      expect(first.activationCount()).toBe(0);
      const second = system();
      await clock.advance(4999);
      expect(second.activationCount()).toBe(0);
      await clock.advance(1);
      await settle(clock);
      expect(await second.get(Alarm, "wake").read()).toEqual([start + 5000]);
      await clock.advance(60_000);
      expect(await second.get(Alarm, "wake").read()).toEqual([start + 5000]);
    });

    it("keeps a slow reminder's lease, so it does not fire twice", async () => {
      await open();
      const first = system({ reminderLeaseMs: 1000 });
      const second = system({ reminderLeaseMs: 1000, nodeId: "second" });
      gates.set("slow reminder", gate());
      await first.get(Alarm, "slow").armSlow(10);
      await clock.advance(10);
      // The handler is running; leases lapse every second unless extended.
      for (let i = 0; i < 10; i++) await clock.advance(500);
      gates.get("slow reminder")?.open();
      await clock.advance(0);
      const onFirst = first.isActive({ type: "Alarm", key: "slow" });
      const owner = onFirst ? first : second;
      expect(await owner.get(Alarm, "slow").read()).toEqual([1]);
      expect(await ports.queue.counts()).toEqual({ waiting: 0, leased: 0 });
    });

    it("leaves other work in a shared queue alone", async () => {
      await open();
      await ports.queue.enqueue({ id: "someone-else", payload: new Uint8Array([1]) });
      const actors = system();
      await actors.get(Alarm, "shared").arm(10);
      await clock.advance(10_000);
      expect(await actors.get(Alarm, "shared").read()).toHaveLength(1);
      expect((await ports.queue.get("someone-else"))?.state).toBe("waiting");
    });

    it("fires periodic reminders until cleared, and rejects undeclared reminder names", async () => {
      await open();
      const actors = system();
      const alarm = actors.get(Alarm, "tick");
      const start = clock.now();
      await alarm.arm(1000, 1000);
      await clock.advance(3000);
      await settle(clock);
      expect(await alarm.read()).toEqual([start + 1000, start + 2000, start + 3000]);
      await alarm.disarm();
      await clock.advance(5000);
      expect(await alarm.read()).toHaveLength(3);
      const error = await alarm.armUnknown().catch((caught: unknown) => caught);
      expect((error as Error).message).toMatch(
        /setReminder\.name: Alarm declares no reminder "nope"/,
      );
    });

    it("rejects a paused old owner's write (LEASE_LOST) after another system took over", async () => {
      await open();
      const oldOwner = system({ nodeId: "old" });
      const newOwner = system({ nodeId: "new" });
      const onOld = oldOwner.get(Probe, 9);
      await onOld.write("first", 1);
      gates.set("paused", gate());
      const paused = onOld.write("paused", 100);
      await settle(clock);
      expect(await newOwner.get(Probe, 9).write("taken", 2)).toBe(2);
      gates.get("paused")?.open();
      expect(await codeOf(paused)).toBe("LEASE_LOST");
      expect(oldOwner.isActive(onOld.address)).toBe(false);
      // The old node's next call activates afresh from what the new owner saved.
      expect(await onOld.read("again")).toBe(2);
    });

    it("reports activations, state writes and reminder firings as metrics, and logs failed sends", async () => {
      await open();
      const metrics = createMemoryMetrics();
      const warnings: { message: string; fields: LogFields | undefined }[] = [];
      const logger: Logger = {
        debug() {},
        info() {},
        warn: (message, fields) => warnings.push({ message, fields }),
        error() {},
        child: () => logger,
      };
      const actors = system({ metrics, logger });
      const counter = actors.get(Counter, "metered");
      await counter.increment(1);
      await counter.increment(1);
      await actors.get(Alarm, "metered").arm(10);
      await clock.advance(10);
      await settle(clock);
      expect(metrics.value("actors_activations_total")).toBe(2);
      expect(metrics.value("actors_active")).toBe(2);
      expect(metrics.value("actors_state_writes_total")).toBe(3);
      expect(metrics.value("actors_reminders_fired_total")).toBe(1);
      counter.send.fail();
      await settle(clock);
      expect(warnings.map((warning) => warning.message)).toContain("actor one-way send failed");
      await actors.close();
      expect(metrics.value("actors_active")).toBe(0);
      expect(metrics.value("actors_deactivations_total")).toBe(2);
    });

    it("passes references between actors as JSON and calls through revived ones", async () => {
      await open();
      const actors = system();
      const counter = actors.get(Counter, "shared");
      const json = counter.toJSON();
      expect(json).toEqual({ type: "Counter", key: "shared" });
      expect(JSON.parse(JSON.stringify(actors.get(Lifecycle)))).toEqual({
        type: "Lifecycle",
        key: null,
      });
      const revived = actors.ref(JSON.parse(JSON.stringify(json)) as ActorRefJson);
      await revived.call("increment", 4);
      expect(await counter.get()).toBe(4);
      counter.send.increment(1);
      await settle(clock);
      expect(await counter.get()).toBe(5);
    });

    it("names the field in errors for bad keys, arguments, references and options", async () => {
      await open();
      const actors = system();
      expect(() => actors.get(Counter, 42 as unknown as string)).toThrow(
        /key: Counter is keyed by a non-empty string, got 42/,
      );
      expect(() => actors.get(Probe, 1.5)).toThrow(
        /key: Probe is keyed by a safe integer, got 1.5/,
      );
      expect(() => (actors.get as (...args: unknown[]) => unknown)(Lifecycle, "x")).toThrow(
        /key: Lifecycle has no key/,
      );
      await expect(actors.invoke("Counter", "k", "add", ["two"])).rejects.toThrow(
        /Counter\.add\.args\.0: /,
      );
      expect(await actors.invoke("Counter", "k", "add", [2])).toBe(2);
      await expect(actors.invoke("Counter", "k", "nope", [])).rejects.toThrow(
        /action: Counter has no action "nope"/,
      );
      await expect(actors.invoke("Nobody", "k", "x", [])).rejects.toThrow(
        /type: unknown actor type/,
      );
      expect(() => actors.ref({ type: "Counter", key: 5 })).toThrow(
        /key: Counter is keyed by a non-empty string/,
      );
      expect(() => actors.ref({ type: 3 } as unknown as ActorRefJson)).toThrow(/^ref\.type: /);
      const Stranger = defineActor({
        name: "Stranger",
        key: "none",
        state: z.object({}),
        initialState: () => ({}),
        actions: {},
      });
      expect(() => actors.get(Stranger)).toThrow(
        /definition: actor type "Stranger" is not registered/,
      );
      expect(() =>
        createActorSystem({ store: ports.store, queue: ports.queue, actors: [{}] as never }),
      ).toThrow(/createActorSystem\.actors\.0: expected a definition from defineActor/);
    });

    it("does not hang on close when a turn never finishes (drainTimeoutMs)", async () => {
      await open();
      const actors = system({ drainTimeoutMs: 5000 });
      const probe = actors.get(Probe, 12);
      await probe.read("warm");
      gates.set("forever", gate());
      const stuck = codeOf(probe.write("forever", 1));
      const waiting = codeOf(probe.write("behind", 2));
      await settle(clock);
      let closed = false;
      const closing = actors.close().then(() => {
        closed = true;
      });
      await clock.advance(4999);
      expect(closed).toBe(false);
      await clock.advance(1);
      await closing;
      expect(await stuck).toBe("TIMEOUT");
      expect(await waiting).toBe("TIMEOUT");
      expect(actors.activationCount()).toBe(0);
    });

    it("drains running turns on close, then refuses new calls with CLOSED", async () => {
      await open();
      const actors = system();
      const probe = actors.get(Probe, 11);
      await probe.read("warm");
      gates.set("draining", gate());
      const running = probe.write("draining", 42);
      const queued = probe.write("queued", 43);
      await settle(clock);
      const closed = actors.close();
      expect(await codeOf(probe.read("late"))).toBe("CLOSED");
      gates.get("draining")?.open();
      await closed;
      expect(await running).toBe(42);
      expect(await queued).toBe(43);
      expect(actors.activationCount()).toBe(0);
      expect(await system().get(Probe, 11).read("reopened")).toBe(43);
    });
  });
}
