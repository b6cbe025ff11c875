import type { RequestListener } from "node:http";
import { ManualClock } from "@troupe/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSigningKey } from "../src/index.js";
import { finishedRuns, startApp, startTroupe } from "./harness.js";

// A signing-key rotation with an official SDK, the window crossed on Troupe's fake clock.
// The clock starts at the real time: the SDK checks signature timestamps against its own clock
// (5 minutes of skew), and the window here is one minute long.

const OLD_KEY = `signkey-prod-${"cd34".repeat(16)}`;
const NEW_KEY = `signkey-prod-${"ab12".repeat(16)}`;
const EVENT_KEY = "troupe-rotation-event-key";
const bearer = (key: string) => ({ authorization: `Bearer ${hashSigningKey(key)}` });

/** An SDK app holding `signingKey` (and the SDK's `signingKeyFallback` when given). */
export interface RotationApp {
  send(event: { name: string; data: Record<string, unknown> }): Promise<{ ids: string[] }>;
  readonly listener: RequestListener;
}

/** Makes an app with one function, `greet` on `demo/rotate`, answering `hello <who>`. */
export type MakeRotationApp = (
  baseUrl: string,
  keys: { signingKey: string; signingKeyFallback?: string; eventKey: string },
) => RotationApp;

/** The rotation procedure's steps against Troupe, with the SDK `label` built by `makeApp`. */
export function describeSigningRotation(label: string, makeApp: MakeRotationApp): void {
  describe(`${label}: signing-key rotation window`, () => {
    const clock = new ManualClock(Date.now());
    const until = clock.now() + 60_000;
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    // Step 1 of the procedure: the app keeps the old key and takes the new one as its fallback.
    let rotating: Awaited<ReturnType<typeof startApp>>;
    // An app nobody updated: the old key only.
    let lagging: Awaited<ReturnType<typeof startApp>>;
    let client: RotationApp;

    beforeAll(async () => {
      troupe = await startTroupe({
        mode: "start",
        signingKey: NEW_KEY,
        signingKeyFallback: OLD_KEY,
        signingKeyFallbackUntil: new Date(until).toISOString(),
        eventKeys: [EVENT_KEY],
        clock,
      });
      client = makeApp(troupe.url, {
        signingKey: OLD_KEY,
        signingKeyFallback: NEW_KEY,
        eventKey: EVENT_KEY,
      });
      rotating = await startApp(client.listener);
      lagging = await startApp(
        makeApp(troupe.url, { signingKey: OLD_KEY, eventKey: EVENT_KEY }).listener,
      );
    });

    afterAll(async () => {
      await rotating?.close();
      await lagging?.close();
      await troupe?.close();
    });

    it("during the window: syncs and runs an app holding both keys, and takes the old bearer", async () => {
      expect(await troupe.api.syncApp(rotating.url)).toMatchObject({ ok: true });
      const { ids } = await client.send({ name: "demo/rotate", data: { who: "ada" } });
      // Read back with the old key's bearer: still accepted inside the window.
      const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: bearer(OLD_KEY) });
      expect(run).toMatchObject({ status: "Completed", output: "hello ada" });
      expect(troupe.api.signingKeys().map((key) => [key.role, key.active])).toEqual([
        ["primary", true],
        ["fallback", true],
      ]);
    });

    it("an app with the old key only cannot verify calls signed with the new key", async () => {
      expect(await troupe.api.syncApp(lagging.url)).toMatchObject({ ok: false });
    });

    it("after the window: the old bearer is refused; the SDK's fallback still syncs and runs", async () => {
      await clock.advanceTo(until);
      expect(troupe.api.signingKeys()[1]).toMatchObject({ role: "fallback", active: false });
      const probe = `${troupe.url}/v1/events?limit=1`;
      expect((await fetch(probe, { headers: bearer(OLD_KEY) })).status).toBe(401);
      expect((await fetch(probe, { headers: bearer(NEW_KEY) })).status).toBe(200);
      // The SDK registers with its primary (old) key, gets 401, and retries with its fallback.
      expect(await troupe.api.syncApp(rotating.url)).toMatchObject({ ok: true });
      const { ids } = await client.send({ name: "demo/rotate", data: { who: "bob" } });
      const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: bearer(NEW_KEY) });
      expect(run).toMatchObject({ status: "Completed", output: "hello bob" });
    });
  });
}
