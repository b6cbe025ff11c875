import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, runsOf, startApp, startTroupe } from "./harness.js";
import type { Client, SdkKit } from "./sdk-kits.js";

/**
 * The behaviour an SDK user relies on, run against a real app built with one major version of
 * the official SDK, served over HTTP and synced into a Troupe started in the test.
 */
export function describeSdk(kit: SdkKit, options: { readonly checkpointing?: boolean } = {}): void {
  describe(`${kit.label}${options.checkpointing ? " (checkpointing)" : ""}`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;
    const counters = new Map<string, number>();
    const bump = (key: string) => {
      const next = (counters.get(key) ?? 0) + 1;
      counters.set(key, next);
      return next;
    };
    const failures: { error: string; eventName: string }[] = [];
    /** Call requests Troupe made, by run id. */
    const calls = new Map<string, number>();
    const countingFetch: typeof fetch = (input, init) => {
      const runId = new Headers(init?.headers).get("x-run-id");
      if (runId) calls.set(runId, (calls.get(runId) ?? 0) + 1);
      return fetch(input, init);
    };

    const send = async (name: string, data: Record<string, unknown> = {}) => {
      const { ids } = await client.send({ name, data });
      const id = ids[0];
      if (!id) throw new Error("no event id");
      return id;
    };

    beforeAll(async () => {
      troupe = await startTroupe({
        checkpointing: options.checkpointing ?? false,
        fetch: countingFetch,
      });
      client = kit.client({ id: "suite", baseUrl: troupe.url });
      const { NonRetriableError, RetryAfterError } = kit;
      const child = kit.fn(
        client,
        { id: "child" },
        [{ event: "demo/child-direct" }],
        async ({ event, step }) => step.run("double", () => Number(event.data.x) * 2),
      );
      const functions = [
        child,
        kit.fn(client, { id: "memo" }, [{ event: "demo/memo" }], async ({ event, step }) => {
          const a = await step.run("a", () => {
            bump(`memo-a-${event.data.n}`);
            return `a${event.data.n}`;
          });
          const b = await step.run("b", () => `${a}b`);
          return { a, b, seen: counters.get(`memo-a-${event.data.n}`) };
        }),
        kit.fn(client, { id: "sleeper" }, [{ event: "demo/sleep" }], async ({ step }) => {
          const before = await step.run("before", () => "slept");
          await step.sleep("nap", "1s");
          return before;
        }),
        kit.fn(client, { id: "waiter" }, [{ event: "demo/wait" }], async ({ event, step }) => {
          const got = await step.waitForEvent("approval", {
            event: "demo/approve",
            timeout: String(event.data.timeout),
            match: "data.id",
          });
          return got ? { approvedBy: got.data.by } : { timedOut: true };
        }),
        kit.fn(client, { id: "parent" }, [{ event: "demo/invoke" }], async ({ event, step }) => {
          const result = await step.invoke("call-child", {
            function: child,
            data: { x: event.data.x },
          });
          return { child: result };
        }),
        kit.fn(client, { id: "parallel" }, [{ event: "demo/parallel" }], async ({ step }) => {
          const [a, b, c] = await Promise.all([
            step.run("p1", () => 1),
            step.run("p2", () => 2),
            step.run("p3", () => 3),
          ]);
          const sum = await step.run("sum", () => a + b + c);
          return { sum };
        }),
        kit.fn(
          client,
          { id: "flaky", retries: 3 },
          [{ event: "demo/flaky" }],
          async ({ event, step }) => {
            const value = await step.run("flaky-step", () => {
              const attempt = bump(`flaky-${event.data.key}`);
              if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
              return `ok after ${attempt}`;
            });
            return value;
          },
        ),
        kit.fn(
          client,
          { id: "retry-after", retries: 2 },
          [{ event: "demo/retry-after" }],
          async ({ event, step }) =>
            step.run("later", () => {
              const attempt = bump(`retry-after-${event.data.key}`);
              if (attempt < 2) throw new RetryAfterError("not yet", "1s");
              return attempt;
            }),
        ),
        kit.fn(
          client,
          {
            id: "doomed",
            retries: 4,
            onFailure: async ({
              event,
              error,
            }: {
              event: { data: { event?: { name: string } } };
              error: Error;
            }) => {
              failures.push({ error: error.message, eventName: event.data.event?.name ?? "?" });
              return "handled";
            },
          },
          [{ event: "demo/doomed" }],
          async ({ event, step }) => {
            await step.run("fatal", () => {
              bump(`doomed-${event.data.key}`);
              throw new NonRetriableError("no point retrying");
            });
          },
        ),
        kit.fn(
          client,
          { id: "cancellable", cancelOn: [{ event: "demo/cancel", match: "data.id" }] },
          [{ event: "demo/cancellable" }],
          async ({ step }) => {
            await step.sleep("long-nap", "30s");
            return "woke";
          },
        ),
      ];
      app = await startApp(kit.serve(client, functions));
      const sync = await troupe.api.syncApp(app.url);
      expect(sync).toMatchObject({ ok: true, modified: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
    });

    it("memoizes step results: each step's code runs once while the handler replays", async () => {
      const id = await send("demo/memo", { n: 1 });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: { a: "a1", b: "a1b", seen: 1 } });
      expect(counters.get("memo-a-1")).toBe(1);
      // Classic protocol: one call per step plus the final one; checkpointing: one call in all.
      const checkpointed = options.checkpointing === true && kit.checkpointsByDefault;
      // Classic: one call per step plus the final one. Checkpointing: one call runs both steps,
      // one more completes the run after their results are recorded.
      expect(calls.get(run?.run_id ?? "")).toBe(checkpointed ? 2 : 3);
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      expect(view?.steps.map((s) => s.id)).toEqual(["a", "b"]);
    });

    it("sleeps and resumes", async () => {
      const id = await send("demo/sleep");
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: "slept" });
    });

    it("waitForEvent resumes with the matching event, not another one", async () => {
      const id = await send("demo/wait", { id: "order-1", timeout: "10s" });
      await waitFor(async () => (await runsOf(troupe.url, id)).length === 1, {
        what: "the waiting run",
      });
      // Give the run time to reach its wait, then send a non-matching and a matching event.
      await waitFor(async () => {
        const run = await troupe.flows.getRun((await runsOf(troupe.url, id))[0]?.run_id ?? "");
        return run?.steps.some((s) => s.status === "waiting") ?? false;
      });
      await send("demo/approve", { id: "order-2", by: "mallory" });
      await send("demo/approve", { id: "order-1", by: "alice" });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: { approvedBy: "alice" } });
    });

    it("waitForEvent times out with null", async () => {
      const id = await send("demo/wait", { id: "order-none", timeout: "1s" });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: { timedOut: true } });
    });

    it("invokes another function and gets its output", async () => {
      const id = await send("demo/invoke", { x: 21 });
      const [run] = await finishedRuns(troupe.url, id, { functionId: "suite-parent" });
      expect(run).toMatchObject({ status: "Completed", output: { child: 42 } });
    });

    it("runs parallel steps and resumes once all are done", async () => {
      const id = await send("demo/parallel");
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: { sum: 6 } });
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      expect(view?.steps.map((s) => s.id).sort()).toEqual(["p1", "p2", "p3", "sum"]);
    });

    it("retries a failing step, then succeeds", async () => {
      const id = await send("demo/flaky", { key: "x" });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: "ok after 3" });
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      expect(view?.steps[0]).toMatchObject({ id: "flaky-step", attempts: 3, status: "completed" });
    });

    it("honours RetryAfterError", async () => {
      const id = await send("demo/retry-after", { key: "y" });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run).toMatchObject({ status: "Completed", output: 2 });
    });

    it("NonRetriableError fails the run at once and runs onFailure", async () => {
      const id = await send("demo/doomed", { key: "z" });
      const [run] = await finishedRuns(troupe.url, id, { functionId: "suite-doomed" });
      expect(run?.status).toBe("Failed");
      expect(counters.get("doomed-z")).toBe(1);
      await waitFor(() => failures.length > 0, { what: "the onFailure handler" });
      expect(failures[0]).toMatchObject({ eventName: "demo/doomed" });
      expect(failures[0]?.error).toContain("no point retrying");
    });

    it("cancelOn cancels a sleeping run", async () => {
      const id = await send("demo/cancellable", { id: "c1" });
      await waitFor(async () => {
        const [summary] = await runsOf(troupe.url, id);
        const run = summary ? await troupe.flows.getRun(summary.run_id) : undefined;
        return run?.steps.some((s) => s.status === "sleeping") ?? false;
      });
      await send("demo/cancel", { id: "c1" });
      const [run] = await finishedRuns(troupe.url, id);
      expect(run?.status).toBe("Cancelled");
    });
  });
}
