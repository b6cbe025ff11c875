import { describe, expect, it } from "vitest";
import {
  ConnectMessage,
  decodeMessage,
  encodeMessage,
  GatewayExecutorRequestData,
  MessageKind,
  SDKResponse,
  StartResponse,
  WorkerConnectRequestData,
} from "./wire.js";

const text = new TextEncoder();

/** The parts of the SDK's generated code (not exported by the package) the test reads. */
interface Codec {
  create(value: Record<string, unknown>): unknown;
  encode(value: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): Record<string, unknown> & { requestPayload: Uint8Array };
}
type SdkProto = Record<
  | "StartResponse"
  | "GatewayExecutorRequestData"
  | "ConnectMessage"
  | "WorkerConnectRequestData"
  | "SDKResponse",
  Codec
> & { SDKResponseStatus: { NOT_COMPLETED: number } };

// The SDK's own generated code, read by path, is the reference.
const sdkPath = "../../node_modules/inngest/proto/src/components/connect/protobuf/connect.js";
const sdk = (await import(/* @vite-ignore */ sdkPath)) as SdkProto;

describe("Connect wire messages", () => {
  it("writes what the SDK reads", () => {
    const start = sdk.StartResponse.decode(
      encodeMessage(StartResponse, {
        connectionId: "c1",
        gatewayEndpoint: "ws://127.0.0.1:1/v0/connect",
        gatewayGroup: "troupe",
        sessionToken: "s",
        syncToken: "y",
      }),
    );
    expect(start).toMatchObject({ connectionId: "c1", gatewayGroup: "troupe", syncToken: "y" });
    const request = sdk.GatewayExecutorRequestData.decode(
      encodeMessage(GatewayExecutorRequestData, {
        requestId: "r",
        appName: "app",
        functionSlug: "app-fn",
        stepId: "step",
        requestPayload: text.encode("{}"),
        runId: "run",
        leaseId: "lease",
      }),
    );
    expect(request).toMatchObject({
      requestId: "r",
      appName: "app",
      stepId: "step",
      leaseId: "lease",
    });
    expect(new TextDecoder().decode(request.requestPayload)).toBe("{}");
    const envelope = sdk.ConnectMessage.decode(
      encodeMessage(ConnectMessage, {
        kind: MessageKind.GATEWAY_EXECUTOR_REQUEST,
        payload: text.encode("x"),
      }),
    );
    expect(envelope.kind).toBe(MessageKind.GATEWAY_EXECUTOR_REQUEST);
  });

  it("reads what the SDK writes, skipping fields Troupe does not use", () => {
    const connect = sdk.WorkerConnectRequestData.encode(
      sdk.WorkerConnectRequestData.create({
        connectionId: "c1",
        instanceId: "host",
        authData: { sessionToken: "s", syncToken: "y" },
        apps: [{ appName: "app", functions: text.encode("[]") }],
        systemAttributes: { cpuCores: 2, memBytes: 1, os: "linux" },
        sdkVersion: "v4",
        maxWorkerConcurrency: 8,
        startedAt: new Date(0),
      }),
    ).finish();
    const decoded = decodeMessage(WorkerConnectRequestData, connect);
    expect(decoded).toMatchObject({
      connectionId: "c1",
      authData: { sessionToken: "s", syncToken: "y" },
      sdkVersion: "v4",
      maxWorkerConcurrency: 8,
    });
    expect(decoded.apps).toHaveLength(1);
    const reply = sdk.SDKResponse.encode(
      sdk.SDKResponse.create({
        requestId: "r",
        status: sdk.SDKResponseStatus.NOT_COMPLETED,
        body: text.encode("[]"),
        noRetry: true,
        retryAfter: "5",
        requestVersion: 2,
      }),
    ).finish();
    expect(decodeMessage(SDKResponse, reply)).toMatchObject({
      requestId: "r",
      body: text.encode("[]"),
      noRetry: true,
      retryAfter: "5",
      requestVersion: 2,
    });
  });

  it("throws on bytes that are not a message", () => {
    expect(() => decodeMessage(ConnectMessage, new Uint8Array([0x0a, 0xff]))).toThrow();
  });
});
