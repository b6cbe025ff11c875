import {
  type Clock,
  createMemoryMetrics,
  type EnqueueItem,
  ManualClock,
  type PubSub,
  type Queue,
  type Store,
} from "@troupe/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createFlows,
  createFunction,
  type FlowDriver,
  type FlowFunction,
  type Flows,
  type FlowsOptions,
  NonRetriableError,
  RetryAfterError,
  StepError,
} from "../src/index.js";
import { useSuitePorts } from "./suite-ports.js";

/** What an adapter hands the engine suite for one test. */
export interface EnginePorts {
  readonly store: Store;
  readonly queue: Queue;
  readonly pubsub?: PubSub;
  /** Closes what was opened (and removes test data). */
  close(): Promise<void>;
}

/** Makes fresh ports for one test; `id` is unique per test, `clock` must drive the queue. */
export type EnginePortsFactory = (context: { id: string; clock: Clock }) => Promise<EnginePorts>;

const HOUR = 3_600_000;

/**
 * The one engine suite: every timing rule runs on a ManualClock through `runDue`, no sleeping.
 * Each adapter (memory, SQLite, PostgreSQL, Redis) calls it with a factory.
 */
export function describeFlowsEngine(adapterName: string, factory: EnginePortsFactory): void {
  describe(`flows engine on ${adapterName}`, () => {
    const suitePorts = useSuitePorts(factory, "f");

    async function setup(
      functions: readonly FlowFunction[],
      extra: Partial<FlowsOptions> = {},
    ): Promise<{ flows: Flows; clock: ManualClock; ports: EnginePorts }> {
      const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
      const { ports, prefix } = await suitePorts.open(clock);
      const flows = createFlows({
        store: ports.store,
        queue: ports.queue,
        clock,
        prefix,
        functions,
        random: () => 0,
        backoff: { baseMs: 1000, maxMs: 60_000, jitter: 0.5 },
        ...extra,
      });
      return { flows, clock, ports };
    }

    async function onlyRun(flows: Flows, functionId: string) {
      const runs = await flows.listRuns({ functionId });
      expect(runs).toHaveLength(1);
      const run = await flows.getRun(runs[0]?.id ?? "");
      if (!run) throw new Error("run vanished");
      return run;
    }

    it("runs a 3-step function once per event and records its history", async () => {
      const calls: string[] = [];
      const fn = createFunction(
        { id: "three", triggers: [{ event: "order/placed" }] },
        async ({ event, step }) => {
          const a = await step.run("a", () => {
            calls.push("a");
            return (event.data.n as number) + 1;
          });
          const b = await step.run(
            "b",
            (x: number) => {
              calls.push("b");
              return x * 2;
            },
            a,
          );
          const c = await step.run("c", () => {
            calls.push("c");
            return { total: b, at: new Date(0) };
          });
          return c;
        },
      );
      const { flows } = await setup([fn]);
      const { ids } = await flows.send({ name: "order/placed", data: { n: 4 } });
      expect(ids).toHaveLength(1);
      await flows.runDue();
      const run = await onlyRun(flows, "three");
      expect(run.status).toBe("completed");
      expect(run.output).toEqual({ total: 10, at: new Date(0) });
      expect(calls).toEqual(["a", "b", "c"]);
      expect(run.steps.map((step) => [step.id, step.status, step.output])).toEqual([
        ["a", "completed", 5],
        ["b", "completed", 10],
        ["c", "completed", { total: 10, at: new Date(0) }],
      ]);
      expect(run.steps[1]?.input).toEqual([5]);
      expect(
        run.steps.every((step) => step.startedAt !== undefined && step.endedAt !== undefined),
      ).toBe(true);
      expect(run.events[0]?.id).toBe(ids[0]);
      expect(await flows.getEvent(ids[0] ?? "")).toMatchObject({
        name: "order/placed",
        data: { n: 4 },
      });
    });

    it("matches triggers by name and CEL condition, and dedupes events by id for 24 h", async () => {
      const fn = createFunction(
        { id: "big", triggers: [{ event: "order/placed", if: "event.data.amount > 100" }] },
        async () => "ok",
      );
      const { flows, clock } = await setup([fn]);
      await flows.send([
        { name: "order/placed", data: { amount: 50 } },
        { name: "order/placed", data: { amount: 500 }, id: "order-1" },
        { name: "order/placed", data: { amount: 500 }, id: "order-1" },
        { name: "order/other", data: { amount: 500 } },
      ]);
      await flows.runDue();
      expect(await flows.listRuns({ functionId: "big" })).toHaveLength(1);
      expect(await flows.listEvents({ name: "order/placed" })).toHaveLength(3);
      await clock.advance(24 * HOUR + 1);
      await flows.send({ name: "order/placed", data: { amount: 500 }, id: "order-1" });
      await flows.runDue();
      expect(await flows.listRuns({ functionId: "big", status: "completed" })).toHaveLength(2);
    });

    it("types and validates event data with a schema", async () => {
      const typed = createFunction(
        {
          id: "typed",
          triggers: [{ event: "user/created" }],
          schema: z.object({ email: z.string().email(), age: z.number().int() }),
        },
        async ({ event, step }) =>
          step.run("next-year", () => `${event.data.email} ${event.data.age + 1}`),
      );
      const { flows } = await setup([typed]);
      await flows.send([
        { name: "user/created", data: { email: "ada@example.com", age: 36 } },
        { name: "user/created", data: { email: "not-an-email", age: 36 } },
      ]);
      await flows.runDue();
      const runs = await Promise.all(
        (await flows.listRuns({ functionId: "typed" })).map((summary) => flows.getRun(summary.id)),
      );
      expect(runs.map((run) => run?.output ?? run?.error?.message).sort()).toEqual([
        "ada@example.com 37",
        expect.stringMatching(/^event\.data\.email: /),
      ]);
    });

    it("rejects invalid events naming the field", async () => {
      const { flows } = await setup([]);
      await expect(flows.send({ name: "" })).rejects.toThrow(/events\[0\]\.name/);
      await expect(
        flows.send([{ name: "ok" }, { name: "x", data: [] as unknown as Record<string, unknown> }]),
      ).rejects.toThrow(/events\[1\]\.data/);
      expect(await flows.listEvents()).toHaveLength(0);
    });

    it("invokes one function with a payload, leaving the others on its trigger alone", async () => {
      const greet = createFunction(
        { id: "greet", triggers: [{ event: "user/created" }] },
        async ({ event }) => `hello ${String(event.data.name)}`,
      );
      const audit = createFunction(
        { id: "audit", triggers: [{ event: "user/created" }] },
        async () => "audited",
      );
      const { flows } = await setup([greet, audit]);
      const { eventId } = await flows.invoke("greet", { data: { name: "Ada" } });
      await flows.runDue();
      const { runs } = await flows.getEventRuns(eventId);
      expect(runs.map((run) => [run.functionId, run.status])).toEqual([["greet", "completed"]]);
      expect((await flows.getRun(runs[0]?.id ?? ""))?.output).toBe("hello Ada");
      expect(await flows.listRuns({ functionId: "audit" })).toHaveLength(0);
      expect((await flows.getEvent(eventId))?.name).toBe("inngest/function.invoked");
      await expect(flows.invoke("missing")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(
        flows.invoke("greet", { data: [] as unknown as Record<string, unknown> }),
      ).rejects.toThrow(/invoke\.data/);
    });

    it("retries a failing step with exponential backoff, then succeeds", async () => {
      let attempts = 0;
      const fn = createFunction(
        { id: "flaky", triggers: [{ event: "go" }], retries: 3 },
        async ({ step }) =>
          step.run("call", () => {
            attempts++;
            if (attempts < 3) throw new Error(`boom ${attempts}`);
            return "done";
          }),
      );
      // random() = 0 pins jitter at its upper bound: delays are exactly base × 2^n.
      const metrics = createMemoryMetrics();
      const { flows, clock } = await setup([fn], { metrics });
      await flows.send({ name: "go" });
      await flows.runDue();
      expect(attempts).toBe(1);
      await clock.advance(999);
      await flows.runDue();
      expect(attempts).toBe(1);
      await clock.advance(1);
      await flows.runDue();
      expect(attempts).toBe(2);
      await clock.advance(1999);
      await flows.runDue();
      expect(attempts).toBe(2);
      await clock.advance(1);
      await flows.runDue();
      const run = await onlyRun(flows, "flaky");
      expect(run.status).toBe("completed");
      expect(run.output).toBe("done");
      expect(run.steps[0]?.attempts).toBe(3);
      expect(metrics.value("flows_steps_total", { function: "flaky", outcome: "retried" })).toBe(2);
      expect(metrics.value("flows_steps_total", { function: "flaky", outcome: "completed" })).toBe(
        1,
      );
      expect(
        metrics.value("flows_runs_finished_total", { function: "flaky", status: "completed" }),
      ).toBe(1);
      expect(metrics.value("flows_runs_created_total", { function: "flaky" })).toBe(1);
      expect(run.steps[0]?.errors?.map((error) => error.message)).toEqual(["boom 1", "boom 2"]);
    });

    it("keeps jittered retry delays within their bounds", async () => {
      let attempts = 0;
      const fn = createFunction(
        { id: "jitter", triggers: [{ event: "go" }], retries: 1 },
        async ({ step }) =>
          step.run("call", () => {
            attempts++;
            if (attempts < 2) throw new Error("boom");
            return "done";
          }),
      );
      // random() close to 1 takes off the whole jitter fraction: the delay is base × (1 − 0.5).
      const { flows, clock } = await setup([fn], { random: () => 0.999_999 });
      await flows.send({ name: "go" });
      await flows.runDue();
      await clock.advance(499);
      await flows.runDue();
      expect(attempts).toBe(1);
      await clock.advance(1);
      await flows.runDue();
      expect(attempts).toBe(2);
      expect((await onlyRun(flows, "jitter")).status).toBe("completed");
    });

    it("fails at once on NonRetriableError and runs onFailure with the error", async () => {
      const failures: string[] = [];
      let attempts = 0;
      const fn = createFunction(
        {
          id: "strict",
          triggers: [{ event: "go" }],
          retries: 5,
          onFailure: async ({ error, event, step }) => {
            await step.run("record", () => failures.push(`${error.message} for ${event.name}`));
          },
        },
        async ({ step }) =>
          step.run("call", () => {
            attempts++;
            throw new NonRetriableError("bad input");
          }),
      );
      const { flows } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      const run = await onlyRun(flows, "strict");
      expect(run.status).toBe("failed");
      expect(run.error?.message).toContain("bad input");
      expect(attempts).toBe(1);
      expect(failures).toEqual(["bad input for go"]);
      expect(
        await flows.listRuns({ functionId: "strict-failure", status: "completed" }),
      ).toHaveLength(1);
    });

    it("lets the handler catch a step that failed for good", async () => {
      const fn = createFunction(
        { id: "catcher", triggers: [{ event: "go" }], retries: 0 },
        async ({ step }) => {
          try {
            await step.run("bad", () => {
              throw new Error("nope");
            });
            return "unreachable";
          } catch (error) {
            expect(error).toBeInstanceOf(StepError);
            return step.run("fallback", () => "recovered");
          }
        },
      );
      const { flows } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      const run = await onlyRun(flows, "catcher");
      expect(run.status).toBe("completed");
      expect(run.output).toBe("recovered");
      expect(run.steps.map((step) => step.status)).toEqual(["failed", "completed"]);
    });

    it("honours RetryAfterError and fails after the last retry", async () => {
      let attempts = 0;
      const fn = createFunction(
        { id: "later", triggers: [{ event: "go" }], retries: 1 },
        async ({ step }) =>
          step.run("call", () => {
            attempts++;
            throw new RetryAfterError("busy", "30s");
          }),
      );
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      await clock.advance(29_999);
      await flows.runDue();
      expect(attempts).toBe(1);
      await clock.advance(1);
      await flows.runDue();
      expect(attempts).toBe(2);
      const run = await onlyRun(flows, "later");
      expect(run.status).toBe("failed");
      expect(run.error?.message).toContain("busy");
    });

    it("retries a handler that throws between steps", async () => {
      let throws = 0;
      const fn = createFunction(
        { id: "outer", triggers: [{ event: "go" }], retries: 2 },
        async ({ step }) => {
          await step.run("one", () => 1);
          if (throws++ < 1) throw new Error("transient");
          return "ok";
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      expect((await onlyRun(flows, "outer")).status).toBe("running");
      await clock.advance(1000);
      await flows.runDue();
      expect((await onlyRun(flows, "outer")).output).toBe("ok");
    });

    it("sleeps without holding a worker and wakes on time", async () => {
      const fn = createFunction(
        { id: "sleeper", triggers: [{ event: "go" }] },
        async ({ step }) => {
          await step.run("before", () => 1);
          await step.sleep("nap", "1h");
          await step.sleepUntil("until", new Date(Date.UTC(2026, 0, 6)));
          return step.run("after", () => 2);
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      expect((await onlyRun(flows, "sleeper")).status).toBe("running");
      await clock.advance(HOUR - 1);
      await flows.runDue();
      expect((await onlyRun(flows, "sleeper")).steps.find((s) => s.id === "nap")?.status).toBe(
        "sleeping",
      );
      await clock.advance(1);
      await flows.runDue();
      const mid = await onlyRun(flows, "sleeper");
      expect(mid.steps.find((s) => s.id === "nap")?.status).toBe("completed");
      expect(mid.steps.find((s) => s.id === "until")?.status).toBe("sleeping");
      await clock.advanceTo(Date.UTC(2026, 0, 6));
      await flows.runDue();
      const done = await onlyRun(flows, "sleeper");
      expect(done.status).toBe("completed");
      expect(done.output).toBe(2);
    });

    it("waits for a matching event, or returns null on timeout", async () => {
      const fn = createFunction(
        { id: "approval", triggers: [{ event: "req" }] },
        async ({ step }) => {
          const approved = await step.waitForEvent("approve", {
            event: "approved",
            timeout: "1h",
            match: "data.id",
          });
          return approved ? `yes by ${approved.data.by as string}` : "timed out";
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send([
        { name: "req", data: { id: "a" } },
        { name: "req", data: { id: "b" } },
      ]);
      await flows.runDue();
      await clock.advance(120_000);
      await flows.send({ name: "approved", data: { id: "a", by: "ann" } });
      await flows.runDue();
      await clock.advance(HOUR - 120_001);
      await flows.runDue();
      const before = await flows.listRuns({ functionId: "approval", status: "running" });
      expect(before).toHaveLength(1);
      await clock.advance(1);
      await flows.runDue();
      const runs = await flows.listRuns({ functionId: "approval" });
      const outputs = await Promise.all(
        runs.map(async (run) => (await flows.getRun(run.id))?.output),
      );
      expect(outputs.sort()).toEqual(["timed out", "yes by ann"]);
    });

    it("matches an event that arrived shortly before the wait was registered", async () => {
      const fn = createFunction({ id: "early", triggers: [{ event: "req" }] }, async ({ step }) => {
        await step.run("ask", () => "asked");
        const reply = await step.waitForEvent("reply", {
          event: "reply",
          timeout: "1d",
          if: "async.data.to == event.data.id && async.data.ok == true",
        });
        return reply?.data.text ?? null;
      });
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "req", data: { id: "r1" } });
      // The reply lands before the run even got to its wait.
      await clock.advance(10);
      await flows.send([
        { name: "reply", data: { to: "r1", ok: false, text: "wrong" } },
        { name: "reply", data: { to: "r1", ok: true, text: "hello" } },
      ]);
      await flows.runDue();
      const run = await onlyRun(flows, "early");
      expect(run.status).toBe("completed");
      expect(run.output).toBe("hello");
    });

    it("memoizes repeated step ids separately, in call order", async () => {
      let calls = 0;
      const fn = createFunction({ id: "loop", triggers: [{ event: "go" }] }, async ({ step }) => {
        const values: number[] = [];
        for (let index = 0; index < 4; index++) {
          values.push(await step.run("same", () => ++calls * 10));
        }
        return values;
      });
      const { flows } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      const run = await onlyRun(flows, "loop");
      expect(run.output).toEqual([10, 20, 30, 40]);
      expect(calls).toBe(4);
      expect(new Set(run.steps.map((step) => step.hash)).size).toBe(4);
    });

    it("looks back no further than waitLookbackMs for an early event", async () => {
      const fn = createFunction(
        { id: "late-wait", triggers: [{ event: "req" }] },
        async ({ step }) => {
          await step.sleep("first", "2m");
          const reply = await step.waitForEvent("reply", { event: "reply", timeout: "1m" });
          return reply === null ? "timed out" : "matched";
        },
      );
      const { flows, clock } = await setup([fn], { waitLookbackMs: 60_000 });
      await flows.send({ name: "req" });
      await flows.runDue();
      // The reply arrives 10 s in; the wait is registered at 2 min, beyond the 60 s lookback.
      await clock.advance(10_000);
      await flows.send({ name: "reply" });
      await clock.advance(110_000);
      await flows.runDue();
      expect((await onlyRun(flows, "late-wait")).status).toBe("running");
      await clock.advance(60_000);
      await flows.runDue();
      expect((await onlyRun(flows, "late-wait")).output).toBe("timed out");
    });

    it("invokes another function and returns its output; times out otherwise", async () => {
      const child = createFunction({ id: "child" }, async ({ event, step }) => {
        if (event.data.slow) await step.sleep("slow", "2h");
        return step.run("double", () => (event.data.x as number) * 2);
      });
      const parent = createFunction(
        { id: "parent", triggers: [{ event: "go" }] },
        async ({ event, step }) => {
          try {
            return await step.invoke("call", {
              function: child,
              data: { x: 21, slow: event.data.slow },
              timeout: "1h",
            });
          } catch (error) {
            return `error: ${(error as StepError).error.name}`;
          }
        },
      );
      const { flows, clock } = await setup([child, parent]);
      await flows.send([
        { name: "go", data: { slow: false } },
        { name: "go", data: { slow: true } },
      ]);
      await flows.runDue();
      await clock.advance(HOUR);
      await flows.runDue();
      const runs = await flows.listRuns({ functionId: "parent" });
      const outputs = await Promise.all(
        runs.map(async (run) => (await flows.getRun(run.id))?.output),
      );
      expect(outputs.sort()).toEqual([42, "error: InvokeTimeoutError"]);
      const children = await flows.listRuns({ functionId: "child" });
      expect(children).toHaveLength(2);
    });

    it("sends events from a step exactly once even when the step is retried", async () => {
      let fails = 1;
      const receiver = createFunction(
        { id: "receiver", triggers: [{ event: "ping" }] },
        async ({ event }) => event.data.n,
      );
      const sender = createFunction(
        { id: "sender", triggers: [{ event: "go" }] },
        async ({ step }) => {
          const sent = await step.sendEvent("emit", [
            { name: "ping", data: { n: 1 } },
            { name: "ping", data: { n: 2 } },
          ]);
          await step.run("after", () => {
            if (fails-- > 0) throw new Error("retry me");
            return 1;
          });
          return sent.ids.length;
        },
      );
      const { flows, clock } = await setup([receiver, sender]);
      await flows.send({ name: "go" });
      await flows.runDue();
      await clock.advance(1000);
      await flows.runDue();
      expect((await onlyRun(flows, "sender")).output).toBe(2);
      expect(await flows.listRuns({ functionId: "receiver", status: "completed" })).toHaveLength(2);
    });

    it("runs parallel steps once each and resumes after all finish", async () => {
      const counts = new Map<string, number>();
      const hit = <T>(name: string, value: T): T => {
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return value;
      };
      const fn = createFunction({ id: "fan", triggers: [{ event: "go" }] }, async ({ step }) => {
        const [a, b, c] = await Promise.all([
          step.run("a", () => hit("a", 1)),
          step.run("b", () => hit("b", 2)),
          step.run("c", () => hit("c", 3)),
        ]);
        const d = await step.run("d", () => hit("d", a + b + c));
        return d;
      });
      const { flows } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      const run = await onlyRun(flows, "fan");
      expect(run.status).toBe("completed");
      expect(run.output).toBe(6);
      expect(Object.fromEntries(counts)).toEqual({ a: 1, b: 1, c: 1, d: 1 });
    });

    it("retries a failing parallel step on its own, after its backoff", async () => {
      let aAttempts = 0;
      let bRuns = 0;
      const fn = createFunction(
        { id: "fan-retry", triggers: [{ event: "go" }], retries: 2 },
        async ({ step }) => {
          const [a, b] = await Promise.all([
            step.run("a", () => {
              aAttempts++;
              if (aAttempts === 1) throw new Error("a failed once");
              return "A";
            }),
            step.run("b", () => {
              bRuns++;
              return "B";
            }),
          ]);
          return `${a}${b}`;
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      expect([aAttempts, bRuns]).toEqual([1, 1]);
      expect((await onlyRun(flows, "fan-retry")).status).toBe("running");
      await clock.advance(999);
      await flows.runDue();
      expect(aAttempts).toBe(1);
      await clock.advance(1);
      await flows.runDue();
      const run = await onlyRun(flows, "fan-retry");
      expect(run.output).toBe("AB");
      expect([aAttempts, bRuns]).toEqual([2, 1]);
      expect(run.steps.find((step) => step.id === "a")?.errors?.[0]?.message).toBe("a failed once");
    });

    it("fails with a clear error when the step sequence changes between replays", async () => {
      let version = 1;
      const fn = createFunction({ id: "shifty", triggers: [{ event: "go" }] }, async ({ step }) => {
        await step.run(version === 1 ? "first" : "renamed", () => 1);
        await step.sleep("nap", "1m");
        return "done";
      });
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go" });
      await flows.runDue();
      version = 2;
      await clock.advance(60_000);
      await flows.runDue();
      const run = await onlyRun(flows, "shifty");
      expect(run.status).toBe("failed");
      expect(run.error?.name).toBe("FLOWS_NONDETERMINISM");
      expect(run.error?.message).toContain("renamed");
    });

    it("cancels runs on a matching cancelOn event and by API", async () => {
      const fn = createFunction(
        {
          id: "cancellable",
          triggers: [{ event: "start" }],
          cancelOn: [{ event: "stop", match: "data.id" }],
        },
        async ({ step }) => {
          await step.sleep("long", "1d");
          return "finished";
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send([
        { name: "start", data: { id: 1 } },
        { name: "start", data: { id: 2 } },
        { name: "start", data: { id: 3 } },
      ]);
      await flows.runDue();
      await flows.send({ name: "stop", data: { id: 1 } });
      const runs = await flows.listRuns({ functionId: "cancellable" });
      const byId = new Map<unknown, string>();
      for (const summary of runs) {
        const run = await flows.getRun(summary.id);
        byId.set(run?.events[0]?.data.id, summary.id);
      }
      expect(await flows.cancel(byId.get(2) ?? "", "operator")).toBe(true);
      expect(await flows.cancel(byId.get(2) ?? "")).toBe(false);
      await clock.advance(86_400_000);
      await flows.runDue();
      expect((await flows.getRun(byId.get(1) ?? ""))?.status).toBe("cancelled");
      expect((await flows.getRun(byId.get(2) ?? ""))?.error?.message).toBe("operator");
      expect((await flows.getRun(byId.get(3) ?? ""))?.output).toBe("finished");
    });

    it("emits inngest/function.cancelled and .finished for functions that listen", async () => {
      const seen: string[] = [];
      const work = createFunction(
        { id: "work", triggers: [{ event: "go" }] },
        async ({ event, step }) => {
          if (event.data.wait) await step.sleep("nap", "1h");
          return "done";
        },
      );
      const audit = createFunction(
        {
          id: "audit",
          triggers: [
            { event: "inngest/function.cancelled" },
            { event: "inngest/function.finished" },
          ],
        },
        async ({ event, step }) => {
          const trigger = event.data.event as { data?: { wait?: boolean } } | null;
          const events = event.data.events as unknown[] | undefined;
          await step.run("note", () =>
            seen.push(
              `${event.name} ${event.data.function_id as string}${
                event.name === "inngest/function.finished"
                  ? ` wait=${String(trigger?.data?.wait)} events=${events?.length}`
                  : ""
              }`,
            ),
          );
        },
      );
      const { flows } = await setup([work, audit]);
      await flows.send([
        { name: "go", data: { wait: true } },
        { name: "go", data: { wait: false } },
      ]);
      await flows.runDue();
      const sleeping =
        (await flows.listRuns({ functionId: "work", status: "running" }))[0]?.id ?? "";
      await flows.cancel(sleeping);
      await flows.runDue();
      expect(seen.sort()).toEqual([
        "inngest/function.cancelled work",
        "inngest/function.finished work wait=false events=1",
        "inngest/function.finished work wait=true events=1",
      ]);
    });

    it("cancels runs that miss their start or finish timeout", async () => {
      const slow = createFunction(
        { id: "slow", triggers: [{ event: "go" }], timeouts: { finish: "10m" } },
        async ({ step }) => {
          await step.sleep("nap", "1h");
          return "late";
        },
      );
      const unstarted = createFunction(
        { id: "unstarted", triggers: [{ event: "go" }], timeouts: { start: "5m" } },
        async () => "started",
      );
      const { flows, clock } = await setup([slow, unstarted]);
      await flows.send({ name: "go" });
      // Nobody works for 6 minutes: the unstarted run misses its start deadline...
      const unstartedRun = (await flows.listRuns({ functionId: "unstarted" }))[0]?.id ?? "";
      await clock.advance(6 * 60_000);
      await flows.runDue();
      expect((await flows.getRun(unstartedRun))?.error?.name).toBe("FLOWS_START_TIMEOUT");
      const slowRun = await onlyRun(flows, "slow");
      expect(slowRun.status).toBe("running");
      await clock.advance(10 * 60_000);
      await flows.runDue();
      const after = await onlyRun(flows, "slow");
      expect(after.status).toBe("cancelled");
      expect(after.error?.name).toBe("FLOWS_FINISH_TIMEOUT");
    });

    it("fires cron triggers in their time zone, once per tick across two engines", async () => {
      const fires: string[] = [];
      const make = () =>
        createFunction(
          { id: "daily", triggers: [{ cron: "TZ=Europe/Paris 0 9 * * *" }] },
          async ({ event, step }) => {
            await step.run("fire", () => fires.push(event.data.scheduledAt as string));
          },
        );
      const { flows, clock, ports } = await setup([make()]);
      const second = createFlows({
        store: ports.store,
        queue: ports.queue,
        clock,
        prefix: suitePorts.lastPrefix(),
        functions: [make()],
      });
      await flows.runDue();
      await second.runDue();
      // Start: 2026-01-05T12:00Z. Next 09:00 Paris (UTC+1) is 2026-01-06T08:00Z.
      await clock.advanceTo(Date.UTC(2026, 0, 6, 7, 59));
      await Promise.all([flows.runDue(), second.runDue()]);
      expect(fires).toEqual([]);
      await clock.advanceTo(Date.UTC(2026, 0, 6, 8, 0));
      await Promise.all([flows.runDue(), second.runDue()]);
      await clock.advanceTo(Date.UTC(2026, 0, 7, 8, 0));
      await Promise.all([second.runDue(), flows.runDue()]);
      expect(fires).toEqual(["2026-01-06T08:00:00.000Z", "2026-01-07T08:00:00.000Z"]);
    });

    /** A driver that completes at once with `label` (to tell two registrations apart). */
    const completing = (label: string, seen: string[] = []): FlowDriver => ({
      execute: async (request) => {
        seen.push(`${label}:${request.event.name}`);
        return { type: "complete", output: label };
      },
    });

    it("replaces a re-registered function's driver, triggers and config for new runs", async () => {
      const { flows } = await setup([]);
      const seen: string[] = [];
      const base = { name: "swap", retries: 0, cancelOn: [] };
      flows.registerFunction(
        { ...base, id: "swap", triggers: [{ event: "old" }] },
        completing("v1", seen),
      );
      await flows.send({ name: "old" });
      await flows.runDue();
      flows.registerFunction(
        { ...base, id: "swap", triggers: [{ event: "new", if: "event.data.ok == true" }] },
        completing("v2", seen),
      );
      const { ids } = await flows.send([
        { name: "old" },
        { name: "new", data: { ok: false } },
        { name: "new", data: { ok: true } },
      ]);
      await flows.runDue();
      // Only the new trigger (with its condition) matches, and the new driver runs it.
      expect(seen).toEqual(["v1:old", "v2:new"]);
      expect((await flows.getEventRuns(ids[0] ?? "")).runs).toEqual([]);
      const [run] = (await flows.getEventRuns(ids[2] ?? "")).runs;
      expect((await flows.getRun(run?.id ?? ""))?.output).toBe("v2");
    });

    it("runs in flight continue with the new driver; unregistering fails them clearly", async () => {
      const { flows, clock } = await setup([]);
      const definition = {
        id: "slow",
        name: "slow",
        retries: 0,
        cancelOn: [],
        triggers: [{ event: "go" }],
      };
      const sleeping: FlowDriver = {
        execute: async (request) =>
          request.steps.nap === undefined
            ? {
                type: "ops",
                ops: [{ op: "Sleep", id: "nap", name: "nap", until: clock.now() + 60_000 }],
              }
            : { type: "complete", output: "v1" },
      };
      flows.registerFunction(definition, sleeping);
      const first = (await flows.send({ name: "go" })).ids[0] ?? "";
      await flows.runDue();
      flows.registerFunction(definition, completing("v2"));
      await clock.advance(60_000);
      await flows.runDue();
      const [firstRun] = (await flows.getEventRuns(first)).runs;
      expect((await flows.getRun(firstRun?.id ?? ""))?.output).toBe("v2");

      flows.registerFunction(definition, sleeping);
      const second = (await flows.send({ name: "go" })).ids[0] ?? "";
      await flows.runDue();
      expect(flows.unregisterFunction("nothing")).toBe(false);
      expect(flows.unregisterFunction("slow")).toBe(true);
      const third = (await flows.send({ name: "go" })).ids[0] ?? "";
      await clock.advance(60_000);
      await flows.runDue();
      expect((await flows.getEventRuns(third)).runs).toEqual([]);
      const [secondRun] = (await flows.getEventRuns(second)).runs;
      const view = await flows.getRun(secondRun?.id ?? "");
      expect(view?.status).toBe("failed");
      expect(view?.error?.name).toBe("FLOWS_FUNCTION_NOT_FOUND");
    });

    it("keeps a caller-chosen event id: a retried send stores and starts nothing twice", async () => {
      const { flows } = await setup([]);
      const seen: string[] = [];
      flows.registerFunction(
        { id: "once", name: "once", retries: 0, cancelOn: [], triggers: [{ event: "pay" }] },
        completing("ran", seen),
      );
      const a = "01KBZ8X9Y0A1B2C3D4E5F6G7H8";
      const b = "01KBZ8X9Y0A1B2C3D4E5F6G7H9";
      const first = await flows.send([
        { name: "pay", eventId: a },
        { name: "pay", eventId: b },
      ]);
      expect(first.ids).toEqual([a, b]);
      // The retry (same ids) and a batch repeating an id add nothing; a new event still runs.
      const retry = await flows.send([
        { name: "pay", eventId: a },
        { name: "pay", eventId: b },
        { name: "pay" },
      ]);
      expect(retry.ids.slice(0, 2)).toEqual([a, b]);
      await flows.runDue();
      expect(seen).toEqual(["ran:pay", "ran:pay", "ran:pay"]);
      expect((await flows.getEventRuns(a)).runs).toHaveLength(1);
      expect((await flows.getEvent(b))?.name).toBe("pay");
      expect(await flows.listEvents({ name: "pay" })).toHaveLength(3);
      await expect(
        flows.send([{ name: "pay" }, { name: "pay", eventId: "not-a-ulid" }]),
      ).rejects.toThrow(/events\[1\]\.eventId/);
    });

    it("schedules the cron of a function registered after start, without duplicate ticks", async () => {
      const { flows, clock } = await setup([]);
      await flows.runDue();
      const seen: string[] = [];
      const fn = (cron: string) => ({
        id: "tick",
        name: "tick",
        retries: 0,
        cancelOn: [],
        triggers: [{ event: "never" }, { cron, timezone: "UTC" }],
      });
      flows.registerFunction(fn("0 * * * *"), completing("hourly", seen));
      // Re-syncing the same schedule twice must not double the ticks.
      flows.registerFunction(fn("0 * * * *"), completing("hourly", seen));
      await clock.advanceTo(Date.UTC(2026, 0, 5, 13));
      await flows.runDue();
      expect(seen).toEqual(["hourly:inngest/scheduled.timer"]);
      // A new schedule: the tick left for 14:00 by the old one is a no-op.
      flows.registerFunction(fn("30 * * * *"), completing("half", seen));
      for (const hour of [13.5, 14, 14.5]) {
        await clock.advanceTo(Date.UTC(2026, 0, 5) + hour * 3_600_000);
        await flows.runDue();
      }
      expect(seen).toEqual([
        "hourly:inngest/scheduled.timer",
        "half:inngest/scheduled.timer",
        "half:inngest/scheduled.timer",
      ]);
      const runs = await flows.listRuns({ functionId: "tick" });
      expect(runs).toHaveLength(3);
      flows.unregisterFunction("tick");
      await clock.advanceTo(Date.UTC(2026, 0, 5, 18, 0));
      await flows.runDue();
      expect(seen).toHaveLength(3);
    });

    it("lists runs by function, status and time, and reruns from the start or a step", async () => {
      const calls: string[] = [];
      const fn = createFunction(
        { id: "q", triggers: [{ event: "go" }] },
        async ({ event, step }) => {
          const a = await step.run("a", () => {
            calls.push("a");
            return 1;
          });
          const b = await step.run("b", () => {
            calls.push("b");
            return 2;
          });
          if (event.data.fail) throw new NonRetriableError("failing on purpose");
          return a + b;
        },
      );
      const { flows, clock } = await setup([fn]);
      await flows.send({ name: "go", data: { fail: false } });
      const firstCreated = clock.now();
      await clock.advance(60_000);
      await flows.send({ name: "go", data: { fail: true } });
      await flows.runDue();
      expect(await flows.listRuns({ functionId: "q", status: "completed" })).toHaveLength(1);
      expect(await flows.listRuns({ status: ["failed"] })).toHaveLength(1);
      expect(await flows.listRuns({ functionId: "q", from: firstCreated + 1 })).toHaveLength(1);
      expect(await flows.listRuns({ functionId: "q", to: firstCreated + 1 })).toHaveLength(1);
      const newest = await flows.listRuns({ functionId: "q", newestFirst: true, limit: 1 });
      expect((await flows.getRun(newest[0]?.id ?? ""))?.status).toBe("failed");
      const completed =
        (await flows.listRuns({ functionId: "q", status: "completed" }))[0]?.id ?? "";
      calls.length = 0;
      const again = await flows.rerun(completed);
      const fromB = await flows.rerun(completed, { fromStep: "b" });
      await flows.runDue();
      expect((await flows.getRun(again))?.output).toBe(3);
      expect((await flows.getRun(fromB))?.rerunOf).toBe(completed);
      expect((await flows.getRun(fromB))?.output).toBe(3);
      expect(calls.sort()).toEqual(["a", "b", "b"]);
      await expect(flows.rerun(completed, { fromStep: "zzz" })).rejects.toThrow(/fromStep/);
    });

    it("recovers when the process dies between a commit and its enqueue", async () => {
      let effects = 0;
      const fn = createFunction({ id: "crashy", triggers: [{ event: "go" }] }, async ({ step }) => {
        await step.run("one", () => ++effects);
        await step.sleep("nap", "1m");
        return step.run("two", () => ++effects);
      });
      const { flows, clock, ports } = await setup([fn]);
      await flows.send({ name: "go" });
      // A second engine whose queue "crashes" on enqueue: the sleep's timer item is never written.
      let failEnqueue = true;
      const brokenQueue: Queue = {
        ...ports.queue,
        name: ports.queue.name,
        queueName: ports.queue.queueName,
        enqueueMany: (items: readonly EnqueueItem[]) => {
          if (failEnqueue) return Promise.reject(new Error("simulated crash"));
          return ports.queue.enqueueMany(items);
        },
      };
      const crashing = createFlows({
        store: ports.store,
        queue: brokenQueue,
        clock,
        prefix: suitePorts.lastPrefix(),
        functions: [fn],
        leaseMs: 5000,
      });
      await crashing.runDue();
      failEnqueue = false;
      expect((await onlyRun(flows, "crashy")).steps[0]?.status).toBe("completed");
      // The claimed item's lease lapses; another worker re-claims it and re-derives the timer.
      await clock.advance(5000);
      await flows.runDue();
      await clock.advance(60_000);
      await flows.runDue();
      const run = await onlyRun(flows, "crashy");
      expect(run.status).toBe("completed");
      expect(effects).toBe(2);
    });
  });
}
