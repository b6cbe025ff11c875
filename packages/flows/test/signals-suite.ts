import { ManualClock, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows, createFunction, type Flows } from "../src/index.js";
import type { EnginePortsFactory } from "./engine-suite.js";
import { useSuitePorts } from "./suite-ports.js";

/** The Troupe-native signals API: `step.waitForSignal` and `flows.sendSignal`, on a ManualClock. */
export function describeSignalSteps(adapterName: string, factory: EnginePortsFactory): void {
  describe(`signals on ${adapterName}`, () => {
    const suitePorts = useSuitePorts(factory, "s");

    const waiter = createFunction(
      { id: "waiter", triggers: [{ event: "wait" }] },
      async ({ event, step }) => {
        const got = await step.waitForSignal<{ ok: boolean }>("approval", {
          signal: String(event.data.signal),
          timeout: "10m",
          onConflict: event.data.onConflict === "fail" ? "fail" : "replace",
        });
        return { got };
      },
    );

    async function setup(): Promise<{ flows: Flows; clock: ManualClock }> {
      const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
      const { ports, prefix } = await suitePorts.open(clock);
      const flows = createFlows({
        store: ports.store,
        queue: ports.queue,
        clock,
        prefix,
        functions: [waiter],
        random: () => 0,
      });
      return { flows, clock };
    }

    const runOf = async (flows: Flows, eventId: string) => {
      const { runs } = await flows.getEventRuns(eventId);
      const run = await flows.getRun(runs[0]?.id ?? "");
      if (!run) throw new Error("no run");
      return run;
    };

    it("sendSignal resumes the waiting step with { signal, data }", async () => {
      const { flows } = await setup();
      const { ids } = await flows.send({ name: "wait", data: { signal: "s1" } });
      await flows.runDue();
      const waiting = await runOf(flows, ids[0] ?? "");
      expect(waiting.steps[0]).toMatchObject({ op: "waitForSignal", status: "waiting" });
      expect(await flows.sendSignal("s1", { ok: true })).toEqual({ runId: waiting.id });
      await flows.runDue();
      const run = await runOf(flows, ids[0] ?? "");
      expect(run).toMatchObject({
        status: "completed",
        output: { got: { signal: "s1", data: { ok: true } } },
      });
      // The signal was used: sending it again finds nobody.
      expect(await flows.sendSignal("s1", 1)).toEqual({});
    });

    it("a signal with no waiter is not kept for a later one", async () => {
      const { flows, clock } = await setup();
      expect(await flows.sendSignal("early", 1)).toEqual({});
      const { ids } = await flows.send({ name: "wait", data: { signal: "early" } });
      await flows.runDue();
      await clock.advance(10 * 60_000 + 1);
      await flows.runDue();
      expect(await runOf(flows, ids[0] ?? "")).toMatchObject({
        status: "completed",
        output: { got: null },
      });
    });

    it("a wait times out to null, and its signal is free afterwards", async () => {
      const { flows, clock } = await setup();
      const { ids } = await flows.send({ name: "wait", data: { signal: "t" } });
      await flows.runDue();
      await clock.advance(10 * 60_000);
      await flows.runDue();
      expect(await runOf(flows, ids[0] ?? "")).toMatchObject({ output: { got: null } });
      expect(await flows.sendSignal("t", 1)).toEqual({});
      const second = await flows.send({ name: "wait", data: { signal: "t", onConflict: "fail" } });
      await flows.runDue();
      expect((await runOf(flows, second.ids[0] ?? "")).steps[0]?.status).toBe("waiting");
    });

    it('onConflict "fail" fails the second waiter; "replace" takes the signal over', async () => {
      const { flows, clock } = await setup();
      const first = await flows.send({ name: "wait", data: { signal: "c" } });
      await flows.runDue();
      const second = await flows.send({ name: "wait", data: { signal: "c", onConflict: "fail" } });
      await flows.runDue();
      expect(await runOf(flows, second.ids[0] ?? "")).toMatchObject({
        status: "failed",
        error: { name: "SignalConflictError" },
      });
      const third = await flows.send({ name: "wait", data: { signal: "c" } });
      await flows.runDue();
      const replacing = await runOf(flows, third.ids[0] ?? "");
      expect(await flows.sendSignal("c", "to third")).toEqual({ runId: replacing.id });
      await flows.runDue();
      expect(await runOf(flows, third.ids[0] ?? "")).toMatchObject({
        output: { got: { data: "to third" } },
      });
      // The replaced wait stays pending until its timeout.
      expect((await runOf(flows, first.ids[0] ?? "")).status).toBe("running");
      await clock.advance(10 * 60_000);
      await flows.runDue();
      expect(await runOf(flows, first.ids[0] ?? "")).toMatchObject({ output: { got: null } });
    });

    it("a cancelled waiter no longer holds its signal", async () => {
      const { flows } = await setup();
      const first = await flows.send({ name: "wait", data: { signal: "x" } });
      await flows.runDue();
      await flows.cancel((await runOf(flows, first.ids[0] ?? "")).id);
      expect(await flows.sendSignal("x", 1)).toEqual({});
      const second = await flows.send({ name: "wait", data: { signal: "x", onConflict: "fail" } });
      await flows.runDue();
      expect((await runOf(flows, second.ids[0] ?? "")).steps[0]?.status).toBe("waiting");
    });

    it("a bad signal name is refused naming the field", async () => {
      const { flows } = await setup();
      const refused = await flows.sendSignal("  ", 1).catch((error: unknown) => error);
      expect(TroupeError.isInstance(refused, "INVALID_ARGUMENT")).toBe(true);
      expect(String(refused)).toContain("sendSignal.signal");
    });
  });
}
