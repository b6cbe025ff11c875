import { ManualClock } from "@troupe/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { hashSigningKey } from "../src/index.js";
import { startTroupe, type TroupeServer } from "./harness.js";

const OLD = `signkey-test-${"01d0".repeat(16)}`;
const NEW = `signkey-test-${"2e77".repeat(16)}`;
const START = Date.UTC(2026, 11, 6, 12);
const WINDOW_MS = 10 * 60_000;
const channel = "rotation:1";
const eventKeys = ["troupe-rotation-event-key"];

async function tokenFrom(server: TroupeServer, key: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/realtime/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${hashSigningKey(key)}` },
    body: JSON.stringify([{ channel, name: "news", kind: "run" }]),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { jwt: string }).jwt;
}

/** The HTTP status a subscription with `token` gets: 101 when the upgrade is taken. */
function subscribeStatus(server: TroupeServer, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(
      `${server.url.replace("http", "ws")}/v1/realtime/connect?token=${encodeURIComponent(token)}`,
    );
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("error", reject);
  });
}

/**
 * A rotation from OLD to NEW across servers in start mode: one still on OLD, one rotating (NEW
 * primary, OLD the fallback for ten minutes of its clock), one already on NEW only.
 */
describe("realtime tokens during a signing key rotation", () => {
  const clock = new ManualClock(START);
  let onOld: TroupeServer;
  let rotating: TroupeServer;
  let onNew: TroupeServer;

  beforeAll(async () => {
    onOld = await startTroupe({
      mode: "start",
      eventKeys,
      signingKey: OLD,
      clock: new ManualClock(START),
    });
    rotating = await startTroupe({
      mode: "start",
      eventKeys,
      signingKey: NEW,
      signingKeyFallback: OLD,
      signingKeyFallbackUntil: START + WINDOW_MS,
      clock,
    });
    onNew = await startTroupe({
      mode: "start",
      eventKeys,
      signingKey: NEW,
      clock: new ManualClock(START),
    });
  });
  afterAll(async () => {
    await Promise.all([onOld, rotating, onNew].map((server) => server?.close()));
  });

  it("a token signed with the previous key subscribes until the window closes; new ones use the current key", async () => {
    const oldToken = await tokenFrom(onOld, OLD);
    // The rotating server answers callers presenting either key, and signs with NEW.
    const issuedForOld = await tokenFrom(rotating, OLD);
    const newToken = await tokenFrom(rotating, NEW);
    expect(await subscribeStatus(rotating, oldToken)).toBe(101);
    for (const token of [issuedForOld, newToken]) {
      expect(await subscribeStatus(onNew, token)).toBe(101);
      expect(await subscribeStatus(onOld, token)).toBe(401);
    }

    await clock.advance(WINDOW_MS - 1);
    expect(await subscribeStatus(rotating, oldToken)).toBe(101);
    await clock.advance(1);
    // The window closed while the server ran: the old key's token is refused, NEW's still works.
    expect(await subscribeStatus(rotating, oldToken)).toBe(401);
    expect(await subscribeStatus(rotating, newToken)).toBe(101);
  });
});
