import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { noopLogger, TroupeError } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadRuntimeConfig, parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime, type RuntimeOptions } from "../src/runtime.js";

// Opened by the graceful-shutdown test to let a held turn finish.
let release: () => void = () => {};
let held: Promise<void> = Promise.resolve();
function hold(): void {
  held = new Promise((resolve) => {
    release = resolve;
  });
}

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: {
      args: z.tuple([z.number().int()]),
      handler: (ctx, by: number) => (ctx.state.count += by),
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    async slow(ctx) {
      await held;
      ctx.state.count += 1;
      return "finished";
    },
    fail() {
      throw new Error("the counter refuses");
    },
    big: () => 2n ** 64n,
  },
});

const Slot = defineActor({
  name: "Slot",
  key: "integer",
  state: z.object({ value: z.string().nullable() }),
  initialState: () => ({ value: null }),
  mailboxSize: 1,
  callTimeoutMs: 200,
  actions: {
    set: (ctx, value: string) => {
      ctx.state.value = value;
    },
    async wait() {
      await held;
    },
  },
});

const Clock = defineActor({
  name: "Clock",
  key: "none",
  state: z.object({ ticks: z.number() }),
  initialState: () => ({ ticks: 0 }),
  actions: { tick: (ctx) => ++ctx.state.ticks },
});

const Alarm = defineActor({
  name: "Alarm",
  key: "string",
  state: z.object({ rang: z.number() }),
  initialState: () => ({ rang: 0 }),
  actions: {
    async set(ctx, afterMs: number) {
      await ctx.setReminder("ring", { afterMs });
    },
  },
  reminders: {
    ring: (ctx) => {
      ctx.state.rang += 1;
    },
  },
});

const scratch: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  release();
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteUrl(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-actors-"));
  scratch.push(dir);
  return `sqlite:${path.join(dir, "troupe.db")}`;
}

async function started(
  input: RuntimeConfigInput,
  options: RuntimeOptions = {},
): Promise<{ runtime: Runtime; url: string }> {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: { definitions: [Counter, Slot, Clock] },
      ...options,
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

async function call(
  url: string,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? undefined : JSON.parse(text),
    headers: response.headers,
  };
}

describe("actors through the runtime's REST API", () => {
  it("100 concurrent increments over HTTP on SQLite end at exactly 100, and survive a restart", async () => {
    const storage = { url: sqliteUrl() };
    const first = await started({ storage });
    const replies = await Promise.all(
      Array.from({ length: 100 }, () =>
        call(first.url, "POST", "/actors/Counter/hits/increment", { args: [1] }),
      ),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(100).fill(200));
    // One turn at a time: every intermediate count was seen by exactly one caller.
    const results = replies.map((reply) => (reply.body as { result: number }).result);
    expect([...results].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect((await call(first.url, "POST", "/actors/Counter/hits/get")).body).toEqual({
      result: 100,
    });
    await first.runtime.stop();

    const second = await started({ storage });
    expect((await call(second.url, "GET", "/actors/Counter/hits")).body).toEqual({
      type: "Counter",
      key: "hits",
      active: false,
      stored: true,
      state: { count: 100 },
    });
    expect(
      (await call(second.url, "POST", "/actors/Counter/hits/increment", { args: [5] })).body,
    ).toEqual({
      result: 105,
    });
  });

  it("lists types and activations at /actors and /api/actors, and reads state", async () => {
    const { url, runtime } = await started({});
    await call(url, "POST", "/actors/Counter/a/increment", { args: [2] });
    await call(url, "POST", "/actors/Clock/_/tick");
    const list = await call(url, "GET", "/actors");
    expect(list.status).toBe(200);
    const body = list.body as {
      nodeId: string;
      types: { name: string; keyKind: string; active: number; actions: { name: string }[] }[];
      activations: { type: string; key: string; nodeId: string; status: string }[];
    };
    expect(body.nodeId).toBe(runtime.actors?.nodeId);
    expect(body.types.map((type) => [type.name, type.keyKind, type.active])).toEqual([
      ["Counter", "string", 1],
      ["Slot", "integer", 0],
      ["Clock", "none", 1],
    ]);
    expect(body.types[0]?.actions.map((action) => action.name)).toEqual([
      "increment",
      "get",
      "slow",
      "fail",
      "big",
    ]);
    expect(
      body.activations.map((activation) => `${activation.type}/${activation.key}`).sort(),
    ).toEqual(["Clock/", "Counter/a"]);
    expect((await call(url, "GET", "/api/actors")).body).toMatchObject({ nodeId: body.nodeId });
    expect((await call(url, "GET", "/actors/Counter/a")).body).toMatchObject({
      active: true,
      stored: true,
      state: { count: 2 },
      live: { count: 2 },
    });
    // Reading never activates.
    expect((await call(url, "GET", "/actors/Counter/nobody")).body).toMatchObject({
      active: false,
      stored: false,
    });
    expect(runtime.actors?.isActive({ type: "Counter", key: "nobody" })).toBe(false);
    // The actor system reports to the runtime's /metrics.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain("\nactors_active 2\n");
  });

  it("maps bad requests and actor errors to statuses with a code and a message naming the field", async () => {
    hold();
    const { url, runtime } = await started({});
    const post = (route: string, body?: unknown) => call(url, "POST", route, body);
    const error = (status: number, code: string, message: string | RegExp) => ({
      status,
      body: {
        status,
        error: {
          code,
          message: typeof message === "string" ? message : expect.stringMatching(message),
        },
      },
    });
    const pick = (reply: { status: number; body: unknown }) => ({
      status: reply.status,
      body: reply.body,
    });

    expect(pick(await post("/actors/Nope/a/go"))).toEqual(
      error(404, "NOT_FOUND", 'no actor type "Nope" (types: Counter, Slot, Clock)'),
    );
    expect(pick(await post("/actors/Counter/a/nope"))).toEqual(
      error(
        404,
        "NOT_FOUND",
        'Counter has no action "nope" (actions: increment, get, slow, fail, big)',
      ),
    );
    expect(pick(await call(url, "GET", "/actors/Nope/a"))).toMatchObject({ status: 404 });
    expect(pick(await post("/actors/Clock//tick"))).toEqual(
      error(404, "NOT_FOUND", /^no actors route POST \/actors\/Clock\/\/tick: use POST/),
    );
    // Keys are URL-decoded path segments.
    expect((await post("/actors/Counter/a%2Fb%20%C3%A9/increment", { args: [1] })).body).toEqual({
      result: 1,
    });
    expect((await call(url, "GET", "/actors/Counter/a%2Fb%20%C3%A9")).body).toMatchObject({
      key: "a/b é",
    });
    expect(pick(await post("/actors/Slot/abc/set", { args: ["x"] }))).toEqual(
      error(400, "INVALID_ARGUMENT", 'key: Slot is keyed by an integer, got "abc"'),
    );
    expect(pick(await post("/actors/Clock/k/tick"))).toEqual(
      error(400, "INVALID_ARGUMENT", 'key: Clock takes no key; use "_" in the path, got "k"'),
    );
    expect(pick(await post("/actors/Counter/a/increment", { args: 1 }))).toEqual(
      error(400, "INVALID_ARGUMENT", "args: expected an array of arguments"),
    );
    expect(pick(await post("/actors/Counter/a/increment", [1]))).toEqual(
      error(400, "INVALID_ARGUMENT", 'body: expected a JSON object like {"args": [...]}'),
    );
    expect(pick(await post("/actors/Counter/a/increment", { args: [1], extra: true }))).toEqual(
      error(400, "INVALID_ARGUMENT", "extra: unknown field"),
    );
    expect(pick(await post("/actors/Counter/a/increment", "{ nope"))).toEqual(
      error(400, "INVALID_ARGUMENT", "body: is not valid JSON"),
    );
    expect(pick(await post("/actors/Counter/a/increment", { args: ["x"] }))).toEqual(
      error(400, "INVALID_ARGUMENT", /^Counter\.increment\.args\.0: /),
    );
    expect(pick(await post("/actors/Counter/a/fail"))).toEqual(
      error(500, "ACTOR_ERROR", "the counter refuses"),
    );
    // Values JSON cannot hold travel in the codec's tagged form.
    expect((await post("/actors/Counter/a/big")).body).toEqual({
      result: { $bigint: "18446744073709551616" },
    });
    expect((await post("/actors/Slot/7/set", { args: ["x"] })).body).toEqual({ result: null });

    // Slot 1 is busy with a held turn; its mailbox holds one more call; another is refused.
    const busy = post("/actors/Slot/1/wait");
    while (!runtime.actors?.isActive({ type: "Slot", key: "1" })) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [first, second] = await Promise.all([
      post("/actors/Slot/1/set", { args: ["a"] }),
      post("/actors/Slot/1/set", { args: ["b"] }),
    ]);
    const full = first.status === 429 ? first : second;
    const queued = first.status === 429 ? second : first;
    expect(pick(full)).toEqual(error(429, "MAILBOX_FULL", /mailbox/));
    expect(full.headers.get("retry-after")).toBe("1");
    // The held turn outlives the type's 200 ms call timeout, and so does the call queued behind it.
    expect(pick(await busy)).toEqual(error(504, "TIMEOUT", /./));
    expect(pick(queued)).toEqual(error(504, "TIMEOUT", /./));
  });

  it("sends one-way with ?oneWay=1 and answers 202", async () => {
    const { url, runtime } = await started({});
    const sent = await call(url, "POST", "/actors/Counter/bg/increment?oneWay=1", { args: [3] });
    expect(sent).toMatchObject({ status: 202, body: { accepted: true } });
    // A bad one-way call is still refused at once.
    expect(
      (await call(url, "POST", "/actors/Counter/bg/increment?oneWay=1", { args: ["x"] })).status,
    ).toBe(400);
    const system = runtime.actors;
    if (system === undefined) throw new Error("no actor system");
    expect(await system.invoke("Counter", "bg", "get", [])).toBe(3);
  });

  it("is guarded by the runtime's auth token", async () => {
    const { url } = await started({ auth: { token: "s3cret" } });
    const denied = await call(url, "POST", "/actors/Counter/a/increment", { args: [1] });
    expect(denied.status).toBe(401);
    expect((await call(url, "GET", "/actors")).status).toBe(401);
    expect((await call(url, "GET", "/api/actors")).status).toBe(401);
    const allowed = await call(
      url,
      "POST",
      "/actors/Counter/a/increment",
      { args: [1] },
      {
        authorization: "Bearer s3cret",
      },
    );
    expect(allowed).toMatchObject({ status: 200, body: { result: 1 } });
  });

  it("drains a turn in flight on stop: its caller gets the reply, new calls get 503, the state is saved", async () => {
    hold();
    const storage = { url: sqliteUrl() };
    const { url, runtime } = await started({ storage });
    const inFlight = call(url, "POST", "/actors/Counter/d/slow");
    while (!runtime.actors?.isActive({ type: "Counter", key: "d" })) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const stopped = runtime.stop();
    const refused = await call(url, "POST", "/actors/Counter/d/increment", { args: [1] });
    expect(refused.status).toBe(503);
    release();
    expect(await inFlight).toMatchObject({ status: 200, body: { result: "finished" } });
    await stopped;

    const again = await started({ storage });
    expect((await call(again.url, "GET", "/actors/Counter/d")).body).toMatchObject({
      state: { count: 1 },
    });
  });

  it("answers 503 before start and after stop leaves nothing running", async () => {
    const runtime = createRuntime(parseRuntimeConfig({ storage: { url: "memory:" } }), {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: { definitions: [Counter] },
    });
    runtimes.push(runtime);
    const early = await runtime.app.request("/actors/Counter/a/get", { method: "POST" });
    expect(early.status).toBe(503);
    expect(runtime.actors).toBeUndefined();
  });
});

describe("actor reminders in the runtime", () => {
  it("live in a queue of their own, so the flows worker leaves them alone, and fire", async () => {
    const { url, runtime } = await started(
      { storage: { url: sqliteUrl() } },
      { actors: { definitions: [Alarm], reminderPollMs: 20 } },
    );
    await call(url, "POST", "/actors/Alarm/late/set", { args: [3_600_000] });
    // The flows worker claims every item of the runtime's queue; the reminder is not there.
    expect(await runtime.storage.queue.counts()).toEqual({ waiting: 0, leased: 0 });
    await call(url, "POST", "/actors/Alarm/soon/set", { args: [10] });
    await waitFor(
      async () =>
        ((await call(url, "GET", "/actors/Alarm/soon")).body as { state?: { rang: number } }).state
          ?.rang === 1,
      { what: "the reminder to fire" },
    );
  });
});

describe("actors configuration", () => {
  it("names the bad field", () => {
    const bad = (actors: unknown) => {
      try {
        parseRuntimeConfig({ actors });
        return undefined;
      } catch (error) {
        return TroupeError.isInstance(error) ? error.message : String(error);
      }
    };
    expect(bad({ definitions: [{ name: "Counter" }] })).toBe(
      "actors.definitions.0: expected a definition from defineActor",
    );
    expect(bad({ definitions: [Counter], colour: 1 })).toBe("actors.colour: unknown option");
    expect(
      bad({ definitions: [Counter], cluster: { transportUrl: "nats://127.0.0.1:4222" } }),
    ).toMatch(/^actors\.nodeId: required in cluster mode/);
    expect(
      bad({ definitions: [Counter], nodeId: "n", cluster: { transportUrl: "http://x" } }),
    ).toBe("actors.cluster.transportUrl: expected a NATS URL like nats://127.0.0.1:4222");
    expect(() =>
      createRuntime(parseRuntimeConfig({}), {
        logger: noopLogger,
        actors: { definitions: [1] } as never,
      }),
    ).toThrow("options.actors.definitions.0: expected a definition from defineActor");
  });

  it("hosts the actors a TypeScript config file defines (as troupe dev loads it)", async () => {
    const file = path.join(import.meta.dirname, "fixtures", "actors.config.ts");
    const config = await loadRuntimeConfig({ file, env: {} });
    const runtime = createRuntime(config, {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
    });
    runtimes.push(runtime);
    const { url } = await runtime.start();
    expect((await call(url, "POST", "/actors/Counter/x/increment", { args: [2] })).body).toEqual({
      result: 2,
    });
  });
});
