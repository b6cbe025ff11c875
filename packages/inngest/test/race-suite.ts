import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, runsOf, startApp, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import type { Client, SdkKit } from "./sdk-kits.js";

type Group = {
  parallel<T>(options: { mode: "race" }, callback: () => Promise<T>): Promise<T>;
};

/** `group.parallel({ mode: "race" })` (SDK v4): the first step to finish wins. */
export function describeRace(
  kit: SdkKit,
  backend: LifecycleBackend,
  options: { readonly checkpointing?: boolean } = {},
): void {
  describe(`${kit.label}: race mode on ${backend.label}${options.checkpointing ? " (checkpointing)" : ""}`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;
    const ran: string[] = [];
    const releaseSlow: (() => void)[] = [];

    beforeAll(async () => {
      troupe = await startTroupe({
        ...backend.open(`race-${Math.random().toString(36).slice(2)}`),
        ...options,
      });
      client = kit.client({ id: "race", baseUrl: troupe.url });
      const fn = kit.fn(client, { id: "racer" }, [{ event: "race/go" }], async (ctx) => {
        const { step } = ctx;
        const group = (ctx as unknown as { group: Group }).group;
        const winner = await group.parallel({ mode: "race" }, () =>
          Promise.race([
            step.run("fast", () => {
              ran.push("fast");
              return "fast";
            }),
            step.run("slow", async () => {
              ran.push("slow");
              // Held until the test lets it go: it cannot finish first.
              await new Promise<void>((resolve) => releaseSlow.push(resolve));
              return "slow";
            }),
          ]),
        );
        const after = await step.run("after", () => `after ${winner}`);
        return { winner, after };
      });
      app = await startApp(kit.serve(client, [fn]));
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      for (const release of releaseSlow) release();
      await app?.close();
      await troupe?.close();
      await backend.cleanup();
    });

    it("the first step to finish wins; the run goes on without waiting for the others", async () => {
      const { ids } = await client.send({ name: "race/go", data: {} });
      const eventId = ids[0] ?? "";
      // The step after the race completes while the loser is still running.
      let runId = "";
      await waitFor(
        async () => {
          const [listed] = await runsOf(troupe.url, eventId);
          runId = listed?.run_id ?? "";
          const view = runId === "" ? undefined : await troupe.flows.getRun(runId);
          return view?.steps.some((s) => s.id === "after" && s.status === "completed") ?? false;
        },
        { timeoutMs: 10_000, what: "the step after the race" },
      );
      const during = await troupe.flows.getRun(runId);
      expect(during?.status).toBe("running");
      expect(during?.steps.find((s) => s.id === "slow")?.status).toBe("planned");
      // The SDK completes a run only once every step it found is memoized: the loser finishes,
      // its result is recorded, and the handler (whose race settled) ignores it.
      for (const release of releaseSlow.splice(0)) release();
      const [run] = await finishedRuns(troupe.url, eventId, { timeoutMs: 10_000 });
      expect(run).toMatchObject({
        status: "Completed",
        output: { winner: "fast", after: "after fast" },
      });
      expect(ran.filter((name) => name === "fast")).toHaveLength(1);
      // The loser ran once: it was not planned again when the handler reported it after the race.
      expect(ran.filter((name) => name === "slow")).toHaveLength(1);
      const view = await troupe.flows.getRun(runId);
      expect(view?.steps.map((s) => s.id)).toEqual(["fast", "after", "slow"]);
    });
  });
}
