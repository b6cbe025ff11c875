import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, runsOf, startTroupe } from "./harness.js";

/** A register payload for functions served at `url`. */
function registerBody(
  url: string,
  appName: string,
  ids: readonly string[],
  extra: Record<string, unknown> = {},
) {
  return {
    url,
    appName,
    deployType: "ping",
    framework: "nodejs",
    sdk: "js:v4.24.0",
    v: "0.1",
    functions: ids.map((id) => ({
      id,
      name: id,
      triggers: [{ event: `test/${id}` }],
      steps: {
        step: {
          id: "step",
          name: "step",
          runtime: { type: "http", url: `${url}?fnId=${id}&stepId=step` },
          retries: { attempts: 0 },
        },
      },
      ...extra,
    })),
  };
}

describe("the Inngest API with malformed input", () => {
  let troupe: Awaited<ReturnType<typeof startTroupe>>;
  /** A fake "SDK" answering each function with a different broken response. */
  let fake: { url: string; close(): Promise<void>; calls: string[] };

  beforeAll(async () => {
    troupe = await startTroupe();
    const calls: string[] = [];
    const server = createServer((req, res) => {
      const fnId = new URL(req.url ?? "/", "http://x").searchParams.get("fnId") ?? "";
      calls.push(fnId);
      const sdk = { "x-inngest-sdk": "inngest-js:v4.24.0", "content-type": "application/json" };
      if (fnId === "sleepy") {
        // One step, then a long sleep: a run to inspect and cancel through the REST API.
        let text = "";
        req.on("data", (chunk) => {
          text += String(chunk);
        });
        req.on("end", () => {
          const body = JSON.parse(text) as { steps: Record<string, unknown> };
          const op = body.steps.abc
            ? { id: "def", op: "Sleep", name: "30s", displayName: "nap" }
            : { id: "abc", op: "StepRun", name: "first", displayName: "first", data: 7 };
          res.writeHead(206, sdk).end(JSON.stringify([op]));
        });
        return;
      }
      req.resume();
      switch (fnId) {
        case "not-an-array":
          res.writeHead(206, sdk).end(JSON.stringify({ op: "StepRun" }));
          return;
        case "op-without-id":
          res.writeHead(206, sdk).end(JSON.stringify([{ op: "StepRun", data: 1 }]));
          return;
        case "unknown-op":
          res.writeHead(206, sdk).end(JSON.stringify([{ id: "abc", op: "Teleport" }]));
          return;
        case "not-json":
          res.writeHead(200, sdk).end("hello, world");
          return;
        case "bad-sleep":
          res
            .writeHead(206, sdk)
            .end(JSON.stringify([{ id: "abc", op: "Sleep", name: "forever and a day" }]));
          return;
        case "streamed":
          // Keep-alive spaces, then the wrapped result, as SDKs answer with streaming on.
          res.writeHead(201, sdk);
          res.write("  ");
          setTimeout(
            () =>
              res.end(
                ` ${JSON.stringify({ status: 200, headers: {}, body: JSON.stringify({ done: true }) })}`,
              ),
            20,
          );
          return;
        case "step-not-found":
          res.writeHead(206, sdk).end(JSON.stringify([{ id: "abc", op: "StepNotFound" }]));
          return;
        case "not-an-sdk":
          res.writeHead(200, { "content-type": "text/html" }).end("<html></html>");
          return;
        default:
          res.writeHead(200, sdk).end(JSON.stringify({ fine: true }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    fake = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/inngest`,
      calls,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  });

  afterAll(async () => {
    await fake?.close();
    await troupe?.close();
  });

  const post = (path: string, body: string) =>
    fetch(`${troupe.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });

  it.each([
    ["not JSON", "{nope", "body: is not valid JSON"],
    ["an empty body", "", "body: expected JSON"],
    [
      "no appName",
      JSON.stringify({ url: "http://127.0.0.1:1/api", functions: [] }),
      "body.appName",
    ],
    ["a bad url", JSON.stringify({ url: "nope", appName: "a", functions: [] }), "body.url"],
    [
      "functions not a list",
      JSON.stringify({ url: "http://127.0.0.1:1/api", appName: "a", functions: {} }),
      "body.functions",
    ],
    [
      "a function without steps",
      JSON.stringify({
        url: "http://127.0.0.1:1/api",
        appName: "a",
        functions: [{ id: "f", triggers: [] }],
      }),
      "body.functions[0].steps",
    ],
  ])("rejects a register payload with %s (400 naming the field)", async (_, body, field) => {
    const response = await post("/fn/register", body);
    expect(response.status).toBe(400);
    const reply = (await response.json()) as { status: number; error: string };
    expect(reply.status).toBe(400);
    expect(reply.error).toContain(field);
  });

  it("rejects a function with a bad CEL expression or cron, naming it", async () => {
    const cel = registerBody(fake.url, "bad-cel", ["bad-cel"]);
    (cel.functions[0] as { triggers: unknown[] }).triggers = [
      { event: "x", expression: "event.data.( ==" },
    ];
    const celReply = await post("/fn/register", JSON.stringify(cel));
    expect(celReply.status).toBe(400);
    expect(((await celReply.json()) as { error: string }).error).toContain("functions[0]");
    const cron = registerBody(fake.url, "bad-cron", ["bad-cron"]);
    (cron.functions[0] as { triggers: unknown[] }).triggers = [{ cron: "every tuesday" }];
    const cronReply = await post("/fn/register", JSON.stringify(cron));
    expect(cronReply.status).toBe(400);
    expect(((await cronReply.json()) as { error: string }).error).toContain("cron");
  });

  it.each([
    ["not JSON", "[{", "body: is not valid JSON"],
    ["an event without a name", JSON.stringify({ data: {} }), "event.name"],
    ["data that is not an object", JSON.stringify([{ name: "x", data: 5 }]), "data"],
  ])("rejects an event with %s (400 with status and error)", async (_, body, field) => {
    const response = await post("/e/any-key", body);
    expect(response.status).toBe(400);
    const reply = (await response.json()) as { ids: string[]; status: number; error: string };
    expect(reply).toMatchObject({ ids: [], status: 400 });
    expect(reply.error).toContain(field);
  });

  it("refuses bodies over 32 MiB with 413", async () => {
    const response = await post(
      "/e/k",
      JSON.stringify({ name: "x", data: { blob: "x".repeat(33 * 1024 * 1024) } }),
    );
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toContain("body");
  });

  it("accepts a single event or a batch and answers { ids, status: 200 }", async () => {
    const one = await post("/e/k", JSON.stringify({ name: "test/nothing", data: { a: 1 } }));
    expect(await one.json()).toMatchObject({ status: 200, ids: [expect.any(String)] });
    const many = await post(
      "/e/k",
      JSON.stringify([{ name: "test/nothing" }, { name: "test/nothing", data: {} }]),
    );
    const reply = (await many.json()) as { ids: string[]; status: number };
    expect(reply.status).toBe(200);
    expect(reply.ids).toHaveLength(2);
  });

  it.each([
    ["not-an-array", "a 206 response must be a JSON array"],
    ["op-without-id", "ops[0].id"],
    ["unknown-op", '"Teleport" is not supported'],
    ["not-json", "is not JSON"],
    ["bad-sleep", "ops[0].name"],
    ["not-an-sdk", "x-inngest-sdk"],
    ["step-not-found", "did not find step"],
  ])(
    "fails a run whose app answers %s, with a clear error and no retry loop",
    async (fnId, message) => {
      const register = await post(
        "/fn/register",
        JSON.stringify(registerBody(fake.url, `app-${fnId}`, [fnId])),
      );
      expect(register.status).toBe(200);
      const sent = (await (
        await post("/e/k", JSON.stringify({ name: `test/${fnId}` }))
      ).json()) as { ids: string[] };
      const [run] = await finishedRuns(troupe.url, sent.ids[0] ?? "");
      expect(run?.status).toBe("Failed");
      expect(run?.error?.message).toContain(message);
    },
  );

  it("fails a run whose app cannot be reached once its attempts are used", async () => {
    const closed = "http://127.0.0.1:9/api/inngest";
    await post("/fn/register", JSON.stringify(registerBody(closed, "gone-app", ["unreachable"])));
    const sent = (await (
      await post("/e/k", JSON.stringify({ name: "test/unreachable" }))
    ).json()) as { ids: string[] };
    const [run] = await finishedRuns(troupe.url, sent.ids[0] ?? "");
    expect(run?.status).toBe("Failed");
    expect(run?.error?.name).toBe("INNGEST_UNREACHABLE");
  });

  it("unwraps a streamed (201) response", async () => {
    await post("/fn/register", JSON.stringify(registerBody(fake.url, "streamer", ["streamed"])));
    const sent = (await (await post("/e/k", JSON.stringify({ name: "test/streamed" }))).json()) as {
      ids: string[];
    };
    const [run] = await finishedRuns(troupe.url, sent.ids[0] ?? "");
    expect(run).toMatchObject({ status: "Completed", output: { done: true } });
  });

  it("drops functions gone from a re-sync and reports identical re-syncs as unmodified", async () => {
    const first = await post(
      "/fn/register",
      JSON.stringify(registerBody(fake.url, "resync", ["keep", "drop"])),
    );
    expect(await first.json()).toMatchObject({ ok: true, modified: true });
    const same = await post(
      "/fn/register",
      JSON.stringify(registerBody(fake.url, "resync", ["keep", "drop"])),
    );
    expect(await same.json()).toMatchObject({ ok: true, modified: false });
    const second = await post(
      "/fn/register",
      JSON.stringify(registerBody(fake.url, "resync", ["keep"])),
    );
    expect(await second.json()).toMatchObject({ ok: true, modified: true });
    const dev = (await (await fetch(`${troupe.url}/dev`)).json()) as {
      functions: { id: string }[];
    };
    expect(dev.functions.map((f) => f.id)).toContain("keep");
    expect(dev.functions.map((f) => f.id)).not.toContain("drop");
    const before = fake.calls.filter((id) => id === "drop").length;
    const sent = (await (await post("/e/k", JSON.stringify({ name: "test/drop" }))).json()) as {
      ids: string[];
    };
    // The function is unregistered from the engine: its events start no run at all.
    expect(await troupe.flows.getEventRuns(sent.ids[0] ?? "")).toEqual({ runs: [], skipped: [] });
    expect(fake.calls.filter((id) => id === "drop").length).toBe(before);

    // A changed trigger replaces the old one for new events.
    const changed = await post(
      "/fn/register",
      JSON.stringify(
        registerBody(fake.url, "resync", ["keep"], { triggers: [{ event: "test/renamed" }] }),
      ),
    );
    expect(await changed.json()).toMatchObject({ ok: true, modified: true });
    const renamed = (await (
      await post("/e/k", JSON.stringify([{ name: "test/keep" }, { name: "test/renamed" }]))
    ).json()) as { ids: string[] };
    const [run] = await finishedRuns(troupe.url, renamed.ids[1] ?? "");
    expect(run).toMatchObject({ status: "Completed", output: { fine: true } });
    expect((await troupe.flows.getEventRuns(renamed.ids[0] ?? "")).runs).toEqual([]);
  });

  it("derives event ids from x-inngest-event-id-seed: a retried send starts nothing twice", async () => {
    await post("/fn/register", JSON.stringify(registerBody(fake.url, "seeded-app", ["seeded"])));
    const send = async () => {
      const response = await fetch(`${troupe.url}/e/k`, {
        method: "POST",
        headers: { "x-inngest-event-id-seed": "1795313184957,YpBcMLkaETzW0w==" },
        body: JSON.stringify([{ name: "test/seeded" }, { name: "test/seeded" }]),
      });
      return ((await response.json()) as { ids: string[] }).ids;
    };
    const ids = await send();
    expect(await send()).toEqual(ids);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) {
      const runs = await finishedRuns(troupe.url, id);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: "Completed" });
    }
    expect(await troupe.flows.listRuns({ functionId: "seeded" })).toHaveLength(2);
  });

  it("shows a run's memoized steps and cancels it through the REST API", async () => {
    await post("/fn/register", JSON.stringify(registerBody(fake.url, "sleepy-app", ["sleepy"])));
    const sent = (await (await post("/e/k", JSON.stringify({ name: "test/sleepy" }))).json()) as {
      ids: string[];
    };
    let runId = "";
    await waitFor(async () => {
      const [run] = await runsOf(troupe.url, sent.ids[0] ?? "");
      runId = run?.run_id ?? "";
      const view = runId ? await troupe.flows.getRun(runId) : undefined;
      return view?.steps.some((step) => step.status === "sleeping") ?? false;
    });
    const actions = await (await fetch(`${troupe.url}/v0/runs/${runId}/actions`)).json();
    expect(actions).toEqual({ abc: { data: 7 } });
    const batch = (await (await fetch(`${troupe.url}/v0/runs/${runId}/batch`)).json()) as {
      name: string;
    }[];
    expect(batch.map((event) => event.name)).toEqual(["test/sleepy"]);
    const cancelled = await fetch(`${troupe.url}/v1/runs/${runId}`, { method: "DELETE" });
    expect(cancelled.status).toBe(200);
    const run = (await (await fetch(`${troupe.url}/v1/runs/${runId}`)).json()) as {
      data: { status: string };
    };
    expect(run.data.status).toBe("Cancelled");
  });

  it("refuses a sync meant for another kind of server", async () => {
    const response = await fetch(`${troupe.url}/fn/register`, {
      method: "POST",
      headers: { "x-inngest-expected-server-kind": "cloud" },
      body: JSON.stringify(registerBody(fake.url, "cloudy", ["cloudy"])),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain(
      "expects a cloud server",
    );
  });

  it("refuses a function id already owned by another app", async () => {
    await post("/fn/register", JSON.stringify(registerBody(fake.url, "owner", ["owned"])));
    const response = await post(
      "/fn/register",
      JSON.stringify(registerBody(fake.url, "thief", ["owned"])),
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain("already belongs");
  });

  it("serves /health, /dev and 404s for unknown runs", async () => {
    expect(await (await fetch(`${troupe.url}/health`)).json()).toEqual({
      status: 200,
      message: "OK",
    });
    expect((await fetch(`${troupe.url}/dev`)).status).toBe(200);
    expect((await fetch(`${troupe.url}/v1/runs/01J0000000000000000000000`)).status).toBe(404);
    const unknown = await fetch(`${troupe.url}/v1/no-such-route`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toContain("/v1/no-such-route");
    const badTime = await fetch(`${troupe.url}/v1/events?received_after=yesterday`);
    expect(badTime.status).toBe(400);
    expect(((await badTime.json()) as { error: string }).error).toContain("received_after");
    const recent = (await (
      await fetch(`${troupe.url}/v1/events?name=test/nothing&received_after=2020-01-01T00:00:00Z`)
    ).json()) as {
      data: { name: string }[];
    };
    expect(recent.data.every((event) => event.name === "test/nothing")).toBe(true);
  });
});
