import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, runsOf, startApp, startTroupe } from "./harness.js";
import type { Client, SdkKit } from "./sdk-kits.js";

/** Flow-control options set in the SDK, enforced by Troupe. */
export function describeFlowControl(kit: SdkKit): void {
  describe(`${kit.label}: flow control`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;
    const running = new Map<string, number>();
    const peak = new Map<string, number>();

    const send = async (name: string, data: Record<string, unknown>, id?: string) => {
      const { ids } = await client.send({ name, data, ...(id ? { id } : {}) });
      return ids[0] ?? "";
    };

    beforeAll(async () => {
      troupe = await startTroupe();
      client = kit.client({ id: "fc", baseUrl: troupe.url });
      const functions = [
        kit.fn(
          client,
          { id: "one-per-user", concurrency: { limit: 1, key: "event.data.user" } },
          [{ event: "fc/work" }],
          async ({ event, step }) =>
            step.run("work", async () => {
              const user = String(event.data.user);
              const now = (running.get(user) ?? 0) + 1;
              running.set(user, now);
              peak.set(user, Math.max(peak.get(user) ?? 0, now));
              await new Promise((resolve) => setTimeout(resolve, 150));
              running.set(user, (running.get(user) ?? 1) - 1);
              return user;
            }),
        ),
        kit.fn(
          client,
          { id: "debounced", debounce: { period: "1s", key: "event.data.user" } },
          [{ event: "fc/typing" }],
          async ({ event }) => ({ last: event.data.text }),
        ),
        kit.fn(
          client,
          { id: "batched", batchEvents: { maxSize: 3, timeout: "2s" } },
          [{ event: "fc/item" }],
          async ({ events }) => ({ items: events.map((e) => e.data.n) }),
        ),
        kit.fn(
          client,
          { id: "once-per-order", idempotency: "event.data.order" },
          [{ event: "fc/order" }],
          async ({ event }) => ({ order: event.data.order }),
        ),
      ];
      app = await startApp(kit.serve(client, functions));
      const sync = await troupe.api.syncApp(app.url);
      expect(sync).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
    });

    it("concurrency with a key: one step at a time per user, users in parallel", async () => {
      const ids = await Promise.all([
        send("fc/work", { user: "a" }),
        send("fc/work", { user: "a" }),
        send("fc/work", { user: "a" }),
        send("fc/work", { user: "b" }),
      ]);
      for (const id of ids) {
        const [run] = await finishedRuns(troupe.url, id);
        expect(run?.status).toBe("Completed");
      }
      expect(peak.get("a")).toBe(1);
    });

    it("debounce runs once, with the last event", async () => {
      const first = await send("fc/typing", { user: "u", text: "h" });
      await send("fc/typing", { user: "u", text: "he" });
      const last = await send("fc/typing", { user: "u", text: "hey" });
      const [run] = await finishedRuns(troupe.url, last, { timeoutMs: 8000 });
      expect(run).toMatchObject({ status: "Completed", output: { last: "hey" } });
      const all = await troupe.flows.listRuns({ functionId: "fc-debounced" });
      expect(all).toHaveLength(1);
      // The run is listed under the event that closed the debounce, not the replaced ones.
      expect(await runsOf(troupe.url, first)).toEqual([]);
    });

    it("batchEvents hands several events to one run", async () => {
      const first = await send("fc/item", { n: 1 });
      const second = await send("fc/item", { n: 2 });
      const third = await send("fc/item", { n: 3 });
      const [run] = await finishedRuns(troupe.url, first, { timeoutMs: 8000 });
      expect(run).toMatchObject({ status: "Completed", output: { items: [1, 2, 3] } });
      // The batch run is listed under every event in it.
      for (const id of [second, third]) {
        const listed = await runsOf(troupe.url, id);
        expect(listed.map((r) => r.run_id)).toEqual([run?.run_id]);
      }
    });

    it("idempotency: one run per key", async () => {
      const first = await send("fc/order", { order: "o-1" });
      const second = await send("fc/order", { order: "o-1" });
      const [run] = await finishedRuns(troupe.url, first);
      expect(run).toMatchObject({ status: "Completed", output: { order: "o-1" } });
      await waitFor(
        async () => (await troupe.flows.listRuns({ functionId: "fc-once-per-order" })).length >= 1,
      );
      expect(await runsOf(troupe.url, second)).toHaveLength(0);
    });
  });
}
