import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { afterAll, describe, expect, it } from "vitest";
import { createInngestApi } from "../api.js";
import { hashSigningKey } from "../signing.js";

const KEY = `signkey-prod-${"ab12".repeat(16)}`;
const AUTH = `Bearer ${hashSigningKey(KEY)}`;
const LIMIT = 32 * 1024 * 1024;

/**
 * A publish with its length stated (as every SDK publish over HTTP) is answered ahead of the
 * router; the same request without the length goes through the router's publish route. Both
 * must answer alike, so each case is sent both ways and the answers compared.
 */
describe("realtime publish, ahead of the router and through it", () => {
  const flows = createFlows({
    store: createMemoryStore(),
    queue: createMemoryQueue(),
    keepProcessAlive: false,
  });
  const api = createInngestApi({ flows, mode: "start", signingKey: KEY, eventKeys: ["k"] });
  afterAll(async () => {
    await api.close();
    await flows.close();
  });

  const send = async (
    query: string,
    body: string,
    options: { auth?: string | undefined; length?: string | undefined; type?: string } = {},
  ) => {
    const headers = new Headers({ "content-type": options.type ?? "application/json" });
    if (options.auth !== undefined) headers.set("authorization", options.auth);
    if (options.length !== undefined) headers.set("content-length", options.length);
    const response = await api.app.fetch(
      new Request(`http://troupe.test/v1/realtime/publish${query}`, {
        method: "POST",
        headers,
        body,
      }),
    );
    return {
      status: response.status,
      kind: response.headers.get("x-inngest-server-kind"),
      body: await response.json(),
    };
  };
  const both = async (
    query: string,
    body: string,
    options: { auth?: string; length?: string } = {},
  ) => {
    const fast = await send(query, body, {
      ...options,
      length: options.length ?? String(Buffer.byteLength(body)),
    });
    const routed = await send(query, body, { ...options, length: undefined });
    expect(fast).toEqual(routed);
    return fast;
  };

  it("publishes with the signing key and answers { ok: true }", async () => {
    expect(await both("?channel=c&topic=t&topic=u&run_id=r", '{"n":1}', { auth: AUTH })).toEqual({
      status: 200,
      kind: "cloud",
      body: { ok: true },
    });
  });

  it("refuses a publish without the signing key with 401", async () => {
    expect(await both("?channel=c&topic=t", "{}")).toEqual({
      status: 401,
      kind: "cloud",
      body: { status: 401, error: "Unauthorized: the signing key does not match" },
    });
    expect((await both("?channel=c&topic=t", "{}", { auth: "Bearer nope" })).status).toBe(401);
  });

  it("names the query field it refuses with 400", async () => {
    expect((await both("?channel=c", "{}", { auth: AUTH })).body.error).toMatch(/^query\.topic: /);
    expect((await both("?topic=t", "{}", { auth: AUTH })).body.error).toMatch(/^query\.channel: /);
  });

  it("holds channel and topic names to 1,024 UTF-8 bytes", async () => {
    const query = (channel: string) => `?channel=${encodeURIComponent(channel)}&topic=t`;
    expect((await both(query("a".repeat(1024)), "{}", { auth: AUTH })).status).toBe(200);
    expect((await both(query("é".repeat(512)), "{}", { auth: AUTH })).status).toBe(200);
    for (const long of ["a".repeat(1025), "é".repeat(513), "€".repeat(342)]) {
      const answer = await both(query(long), "{}", { auth: AUTH });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/^query\.channel: /);
    }
    const topic = await both(`?channel=c&topic=t&topic=${"€".repeat(342)}`, "{}", { auth: AUTH });
    expect(topic.body.error).toMatch(/^query\.topic\[1\]: /);
    expect((await both("?channel=&topic=t", "{}", { auth: AUTH })).status).toBe(400);
  });

  it("refuses a stated length over the limit with 413 before reading the body", async () => {
    const answer = await send("?channel=c&topic=t", "{}", {
      auth: AUTH,
      length: String(LIMIT + 1),
    });
    expect(answer).toEqual({
      status: 413,
      kind: "cloud",
      body: { status: 413, error: `body: larger than ${LIMIT} bytes` },
    });
  });

  it("leaves other paths and methods to the router", async () => {
    const other = await send("/extra?channel=c&topic=t", "{}", { auth: AUTH, length: "2" });
    expect(other.status).toBe(404);
    const get = await api.app.fetch(
      new Request("http://troupe.test/v1/realtime/publish?channel=c&topic=t", {
        headers: { authorization: AUTH },
      }),
    );
    expect(get.status).toBe(404);
  });
});
