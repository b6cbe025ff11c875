import { describe, expect, it } from "vitest";
import {
  asHttpFunction,
  connectAppOf,
  connectCallUrl,
  executorRequestOf,
  httpReplyOf,
} from "./call-mapping.js";
import { SdkResponseStatus } from "./wire.js";

const body = (text: string) => Buffer.from(text, "utf8");

describe("Connect call mapping", () => {
  it("tells a Connect app's call URL from any other", () => {
    const url = new URL(connectCallUrl("my app/ü"));
    expect(connectAppOf(url)).toBe("my app/ü");
    expect(connectAppOf(new URL("http://127.0.0.1:3000/api/inngest"))).toBeUndefined();
  });

  it("points every step runtime of a synced function at the app's Connect URL", () => {
    const fn = {
      id: "app-fn",
      steps: { step: { id: "step", runtime: { type: "ws", url: "wss://connect/?fnId=app-fn" } } },
    };
    expect(asHttpFunction(fn, "app")).toEqual({
      id: "app-fn",
      steps: { step: { id: "step", runtime: { type: "http", url: connectCallUrl("app") } } },
    });
  });

  it("carries the driver's call as an executor request for the function and step", () => {
    const url = new URL(connectCallUrl("app"));
    url.searchParams.set("fnId", "app-fn");
    url.searchParams.set("stepId", "abc");
    const request = executorRequestOf(
      url,
      '{"ctx":{}}',
      { requestId: "r", leaseId: "l", appName: "app" },
      "run-1",
    );
    expect(request).toMatchObject({
      requestId: "r",
      appName: "app",
      functionSlug: "app-fn",
      stepId: "abc",
      runId: "run-1",
      leaseId: "l",
    });
    expect(Buffer.from(request.requestPayload as Uint8Array).toString()).toBe('{"ctx":{}}');
  });

  it("turns the SDK's folded status back into the HTTP status the driver expects", () => {
    // NOT_COMPLETED is proto3's zero: absent on the wire.
    expect(httpReplyOf({ body: body("[]") }).status).toBe(206);
    expect(httpReplyOf({ status: SdkResponseStatus.DONE, body: body('"ok"') }).status).toBe(200);
    expect(
      httpReplyOf({ status: SdkResponseStatus.DONE, noRetry: true, body: body("{}") }).status,
    ).toBe(400);
    const failed = httpReplyOf({
      status: SdkResponseStatus.ERROR,
      body: body("{}"),
      retryAfter: "30",
      requestVersion: 2,
      sdkVersion: "inngest-js:v4.24.0",
    });
    expect(failed).toMatchObject({
      status: 500,
      headers: {
        "retry-after": "30",
        "x-inngest-req-version": "2",
        "x-inngest-sdk": "inngest-js:v4.24.0",
        "x-inngest-no-retry": "false",
      },
    });
  });
});
