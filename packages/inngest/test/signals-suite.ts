import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import type { Client, SdkKit } from "./sdk-kits.js";

type SignalSteps = {
  waitForSignal(
    id: string,
    options: { signal: string; timeout: string; onConflict: "replace" | "fail" },
  ): Promise<{ signal: string; data: unknown } | null>;
  sendSignal(id: string, options: { signal: string; data?: unknown }): Promise<{ runId?: string }>;
};

type SignalClient = Client & {
  sendSignal(options: { signal: string; data?: unknown }): Promise<{ runId?: string }>;
};

/** `step.waitForSignal`, `sendSignal` and `POST /v1/signals`, on durable ports. */
export function describeSignals(
  kit: SdkKit,
  backend: LifecycleBackend,
  options: { readonly checkpointing?: boolean } = {},
): void {
  describe(`${kit.label}: signals on ${backend.label}${options.checkpointing ? " (checkpointing)" : ""}`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: SignalClient;
    const tag = Math.random().toString(36).slice(2, 8);
    const name = (label: string) => `${label}-${tag}`;

    const send = async (event: string, data: Record<string, unknown>) => {
      const { ids } = await client.send({ name: event, data });
      return ids[0] ?? "";
    };

    /** Waits until some run's step waits for `signal`. */
    const waiting = async (functionId: string, count = 1) => {
      await waitFor(
        async () => {
          const runs = await troupe.flows.listRuns({ functionId, status: "running" });
          const views = await Promise.all(runs.map((run) => troupe.flows.getRun(run.id)));
          const waits = views.flatMap((view) =>
            (view?.steps ?? []).filter((s) => s.op === "waitForSignal" && s.status === "waiting"),
          );
          return waits.length >= count;
        },
        { timeoutMs: 10_000, what: `${count} run(s) of ${functionId} waiting for a signal` },
      );
    };

    const postSignal = (body: unknown) =>
      fetch(`${troupe.url}/v1/signals`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });

    beforeAll(async () => {
      troupe = await startTroupe({ ...backend.open(`signals-${tag}`), ...options });
      client = kit.client({ id: "sig", baseUrl: troupe.url }) as SignalClient;
      const functions = [
        kit.fn(client, { id: "waiter" }, [{ event: "sig/wait" }], async ({ event, step }) => {
          const steps = step as unknown as SignalSteps;
          const got = await steps.waitForSignal("approval", {
            signal: String(event.data.signal),
            timeout: String(event.data.timeout ?? "30s"),
            onConflict: (event.data.onConflict as "replace" | "fail" | undefined) ?? "replace",
          });
          return { got };
        }),
        kit.fn(client, { id: "sender" }, [{ event: "sig/send" }], async ({ event, step }) => {
          const steps = step as unknown as SignalSteps;
          const sent = await steps.sendSignal("send-it", {
            signal: String(event.data.signal),
            data: event.data.payload,
          });
          return { resumed: sent.runId ?? null };
        }),
      ];
      app = await startApp(kit.serve(client, functions));
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
      await backend.cleanup();
    });

    it("a signal sent with the SDK's sendSignal resumes the waiting run with its data", async () => {
      const signal = name("order-1");
      const eventId = await send("sig/wait", { signal });
      await waiting("sig-waiter");
      const sent = await client.sendSignal({ signal, data: { approved: true } });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({
        status: "Completed",
        output: { got: { signal, data: { approved: true } } },
      });
      expect(sent.runId).toBe(run?.run_id);
    });

    it("a signal nobody waits for gets the documented answer: no run id (HTTP 404)", async () => {
      const sent = await client.sendSignal({ signal: name("nobody"), data: 1 });
      expect(sent.runId).toBeUndefined();
      const response = await postSignal({ signal: name("nobody"), data: 1 });
      expect(response.status).toBe(404);
    });

    it("a wait that times out resolves to null", async () => {
      const eventId = await send("sig/wait", { signal: name("late"), timeout: "1s" });
      const [run] = await finishedRuns(troupe.url, eventId, { timeoutMs: 10_000 });
      expect(run).toMatchObject({ status: "Completed", output: { got: null } });
    });

    it("step.sendSignal from another function resumes the waiter", async () => {
      const signal = name("from-step");
      const waiter = await send("sig/wait", { signal });
      await waiting("sig-waiter");
      const sender = await send("sig/send", { signal, payload: { via: "step" } });
      const [sent] = await finishedRuns(troupe.url, sender);
      const [run] = await finishedRuns(troupe.url, waiter);
      expect(run).toMatchObject({
        status: "Completed",
        output: { got: { data: { via: "step" } } },
      });
      expect(sent).toMatchObject({ status: "Completed", output: { resumed: run?.run_id } });
    });

    it('onConflict "fail": a second waiter on the same signal fails, the first keeps it', async () => {
      const signal = name("fail");
      const first = await send("sig/wait", { signal, onConflict: "fail" });
      await waiting("sig-waiter");
      const second = await send("sig/wait", { signal, onConflict: "fail" });
      const [failed] = await finishedRuns(troupe.url, second);
      expect(failed?.status).toBe("Failed");
      expect(JSON.stringify(failed?.error)).toContain("already waiting for signal");
      const sent = await client.sendSignal({ signal, data: "first" });
      const [run] = await finishedRuns(troupe.url, first);
      expect(run).toMatchObject({ status: "Completed", output: { got: { data: "first" } } });
      expect(sent.runId).toBe(run?.run_id);
    });

    it('onConflict "replace": the second waiter takes the signal, the first times out', async () => {
      const signal = name("replace");
      const first = await send("sig/wait", { signal, timeout: "2s" });
      await waiting("sig-waiter");
      const before = (await troupe.flows.listRuns({ functionId: "sig-waiter" })).length;
      const second = await send("sig/wait", { signal, onConflict: "replace" });
      await waitFor(
        async () => (await troupe.flows.listRuns({ functionId: "sig-waiter" })).length > before,
      );
      await waiting("sig-waiter", 2);
      const sent = await client.sendSignal({ signal, data: "second" });
      const [replaced] = await finishedRuns(troupe.url, second);
      expect(replaced).toMatchObject({ status: "Completed", output: { got: { data: "second" } } });
      expect(sent.runId).toBe(replaced?.run_id);
      const [timedOut] = await finishedRuns(troupe.url, first, { timeoutMs: 10_000 });
      expect(timedOut).toMatchObject({ status: "Completed", output: { got: null } });
    });

    it("a malformed signal request gets a 400 naming the field and changes nothing", async () => {
      const signal = name("guarded");
      const eventId = await send("sig/wait", { signal });
      await waiting("sig-waiter");
      const missing = await postSignal({ data: 1 });
      expect(missing.status).toBe(400);
      expect(await missing.text()).toContain("body.signal");
      const wrongType = await postSignal({ signal: 42 });
      expect(wrongType.status).toBe(400);
      expect(await wrongType.text()).toContain("body.signal");
      const extra = await postSignal({ signal, data: 1, runId: "x" });
      expect(extra.status).toBe(400);
      expect(await extra.text()).toContain("runId");
      const notJson = await postSignal("{nope");
      expect(notJson.status).toBe(400);
      expect(await notJson.text()).toContain("body");
      // The waiter is untouched: a valid signal still resumes it.
      const response = await postSignal({ signal, data: "ok" });
      expect(response.status).toBe(200);
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({ status: "Completed", output: { got: { data: "ok" } } });
      expect(await response.json()).toEqual({ data: { run_id: run?.run_id } });
    });
  });
}
