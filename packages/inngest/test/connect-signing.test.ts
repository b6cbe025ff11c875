import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { connect } from "inngest/connect";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  ConnectMessage,
  decodeMessage,
  encodeMessage,
  MessageKind,
  StartResponse,
  WorkerConnectRequestData,
} from "../src/connect/wire.js";
import { hashSigningKey } from "../src/index.js";
import { finishedRuns, startTroupe } from "./harness.js";
import "./realtime-subscriber.js";

const KEY = `signkey-test-${"c0ec".repeat(16)}`;
const EVENT_KEY = "troupe-connect-event-key";
const bearer = { authorization: `Bearer ${hashSigningKey(KEY)}` };
const silent = { info() {}, warn() {}, error() {}, debug() {} };

describe("Connect in start mode", () => {
  it("runs a signed worker's function, and refuses unauthorised starts and forged sessions", async () => {
    const troupe = await startTroupe({ mode: "start", signingKey: KEY, eventKeys: [EVENT_KEY] });
    try {
      const unauthorised = await fetch(`${troupe.url}/v0/connect/start`, { method: "POST" });
      expect(unauthorised.status).toBe(401);
      const badFlush = await fetch(`${troupe.url}/v0/connect/flush`, {
        method: "POST",
        headers: bearer,
        body: new Uint8Array([0x0a, 0xff]),
      });
      expect(badFlush.status).toBe(400);
      expect(((await badFlush.json()) as { error: string }).error).toMatch(/^body: /);

      // A worker that presents a session token Troupe did not issue is closed, unsynced.
      const start = await fetch(`${troupe.url}/v0/connect/start`, {
        method: "POST",
        headers: bearer,
      });
      const session = decodeMessage(StartResponse, new Uint8Array(await start.arrayBuffer()));
      const closeCode = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(String(session.gatewayEndpoint), ["v0.connect.inngest.com"]);
        ws.on("message", () => {
          ws.send(
            encodeMessage(ConnectMessage, {
              kind: MessageKind.WORKER_CONNECT,
              payload: encodeMessage(WorkerConnectRequestData, {
                connectionId: session.connectionId,
                authData: { sessionToken: "forged", syncToken: "x" },
                apps: [{ appName: "impostor", functions: Buffer.from("[]") }],
              }),
            }),
          );
        });
        ws.on("close", (code) => resolve(code));
        ws.on("error", reject);
      });
      expect(closeCode).toBe(4003);
      expect(troupe.api.apps().some((app) => app.appName === "impostor")).toBe(false);

      const client = new Inngest({
        id: "signed-worker",
        baseUrl: troupe.url,
        signingKey: KEY,
        eventKey: EVENT_KEY,
        isDev: false,
        logger: silent,
      });
      const fn = client.createFunction(
        { id: "double", triggers: [{ event: "demo/double" }] },
        async ({ event, step }) => step.run("double", () => Number(event.data.x) * 2),
      );
      const worker = await connect({
        apps: [{ client, functions: [fn] }],
        isolateExecution: false,
        handleShutdownSignals: [],
      } as unknown as Parameters<typeof connect>[0]);
      try {
        await waitFor(() => troupe.api.apps().some((app) => app.appName === "signed-worker"), {
          what: "the signed worker to sync",
        });
        const { ids } = await client.send({ name: "demo/double", data: { x: 21 } });
        const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: bearer });
        expect(run).toMatchObject({ status: "Completed", output: 42 });
      } finally {
        await worker.close();
      }
    } finally {
      await troupe.close();
    }
  });
});
