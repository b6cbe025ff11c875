import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offloadPolicy, parseOffload, performOffload, refusal, visibleRequest } from "./offload.js";

describe("offloaded requests", () => {
  let hits = 0;
  let url = "";
  const server = createServer((_request, response) => {
    hits++;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ big: "x".repeat(2000) }));
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const step = { id: "h1", name: "ask" };
  const ai = (target: string) =>
    parseOffload(
      { op: "AIGateway", opts: { url: target, auth_key: "sk-1", format: "openai-chat", body: {} } },
      "ops[0]",
    );

  it("start mode without a policy contacts nothing: the step fails, no request is made", async () => {
    const request = ai(url);
    if (typeof request === "string") throw new Error(request);
    const before = hits;
    const outcome = await performOffload(
      step,
      request,
      { fetch, ...offloadPolicy("start", undefined) },
      () => 0,
    );
    expect(outcome).toMatchObject({ op: "StepFailed", error: { name: "TROUPE_OFFLOAD_REFUSED" } });
    expect(hits).toBe(before);
  });

  it("start mode with a policy fetches only what it allows", async () => {
    const allowed = offloadPolicy("start", (target) => target.startsWith(url));
    const request = ai(url);
    if (typeof request === "string") throw new Error(request);
    const outcome = await performOffload(step, request, { fetch, ...allowed }, () => 0);
    expect(outcome).toMatchObject({
      op: "StepRun",
      kind: "aiInfer",
      data: { big: "x".repeat(2000) },
    });
    expect(refusal("http://10.0.0.1/", allowed.canFetchUrl)).toContain("offloadAllowlist");
  });

  it("refuses credentials in URLs and non-http schemes even in dev", () => {
    expect(refusal("http://user:pw@127.0.0.1/", undefined)).toContain("credentials");
    expect(refusal("file:///etc/passwd", undefined)).toContain("file:");
    expect(refusal("not a url", undefined)).toContain("not a URL");
    expect(refusal("https://api.example.com/", undefined)).toBeUndefined();
  });

  it("a response larger than the cap fails the step", async () => {
    const request = ai(url);
    if (typeof request === "string") throw new Error(request);
    const outcome = await performOffload(step, request, { fetch, maxResponseBytes: 100 }, () => 0);
    expect(outcome).toMatchObject({
      op: "StepFailed",
      error: { name: "TROUPE_OFFLOAD_TOO_LARGE" },
    });
  });

  it("names the bad field of a malformed op", () => {
    expect(parseOffload({ op: "Gateway", opts: {} }, "ops[2]")).toContain("ops[2].opts");
    expect(parseOffload({ op: "AIGateway", opts: { body: {} } }, "ops[0]")).toContain(
      "ops[0].opts.url",
    );
  });

  it("keeps keys out of the request shown in history", () => {
    const request = parseOffload(
      {
        op: "Gateway",
        opts: { url, method: "post", headers: { Authorization: "Bearer s", "x-a": "1" } },
      },
      "ops[0]",
    );
    if (typeof request === "string") throw new Error(request);
    expect(request.method).toBe("POST");
    expect(visibleRequest(request)).toEqual({
      url,
      method: "POST",
      headers: { Authorization: "[redacted]", "x-a": "1" },
    });
    const inferred = ai(url);
    if (typeof inferred === "string") throw new Error(inferred);
    expect(inferred.headers.authorization).toBe("Bearer sk-1");
    expect(JSON.stringify(visibleRequest(inferred))).not.toContain("sk-1");
  });
});
