import { noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { Redis } from "ioredis";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  createRuntime,
  enableDevProtocols,
  parseRuntimeConfig,
  type Runtime,
  type RuntimeConfigInput,
} from "../src/index.js";

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

const hello = createFunction({ id: "hello", triggers: [{ event: "app/ping" }] }, async ({ step }) =>
  step.run("say", () => "hi"),
);

function create(input: RuntimeConfigInput): Runtime {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    { logger: noopLogger, inngest: false, dashboardDir: false, functions: [hello] },
  );
  runtimes.push(runtime);
  return runtime;
}

describe("protocol servers in the runtime", () => {
  it("serves Redis clients from the runtime's actors, behind its token, with events into flows", async () => {
    const runtime = create({ auth: { token: "t0ken" }, resp: { enabled: true, port: 0 } });
    await runtime.start();
    const port = runtime.protocols?.resp?.port() ?? 0;
    expect(port).toBeGreaterThan(0);
    const anonymous = new Redis({
      port,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
    });
    await anonymous.connect();
    await expect(anonymous.get("a")).rejects.toThrow("NOAUTH");
    anonymous.disconnect();

    const redis = new Redis({ port, password: "t0ken" });
    try {
      expect(await redis.set("greeting", "hello")).toBe("OK");
      expect(await redis.get("greeting")).toBe("hello");
      expect(runtime.actors?.types().map((type) => type.name)).toContain("RespKey");
      const [id] = (await redis.call("EVENT.SEND", "app/ping", '{"n":1}')) as string[];
      const event = await runtime.flows.getEvent(id as string);
      expect(event).toMatchObject({ name: "app/ping", data: { n: 1 } });
    } finally {
      redis.disconnect();
    }
  });

  it("serves PostgreSQL clients the runtime's events, functions and actors, behind its token", async () => {
    const runtime = create({
      auth: { token: "t0ken" },
      resp: { enabled: true, port: 0 },
      pgwire: { enabled: true, port: 0 },
    });
    await runtime.start();
    const port = runtime.protocols?.pgwire?.port() ?? 0;
    const denied = new pg.Client({ host: "127.0.0.1", port, user: "troupe", password: "wrong" });
    await expect(denied.connect()).rejects.toMatchObject({ code: "28P01" });
    await denied.end().catch(() => undefined);
    const client = new pg.Client({ host: "127.0.0.1", port, user: "troupe", password: "t0ken" });
    await client.connect();
    const redis = new Redis({ port: runtime.protocols?.resp?.port() ?? 0, password: "t0ken" });
    try {
      await redis.set("shared", "v");
      const inserted = await client.query(
        "INSERT INTO events (name, data) VALUES ('app/ping', $1) RETURNING id",
        ['{"n":2}'],
      );
      const [row] = (
        await client.query("SELECT name, data->>'n' AS n FROM events WHERE id = $1", [
          inserted.rows[0]?.id,
        ])
      ).rows;
      expect(row).toEqual({ name: "app/ping", n: "2" });
      expect((await client.query("SELECT id, source FROM functions")).rows).toEqual([
        { id: "hello", source: "in-process" },
      ]);
      const actors = await client.query(
        "SELECT key, state->>'t' AS t FROM actors WHERE type = 'RespKey'",
      );
      expect(actors.rows).toEqual([{ key: "shared", t: "string" }]);
      await expect(client.query("SELECT * FROM nowhere")).rejects.toMatchObject({ code: "42P01" });
      const metrics = await (
        await runtime.app.request("/metrics", { headers: { authorization: "Bearer t0ken" } })
      ).text();
      expect(metrics).toMatch(/^resp_commands_total [1-9]/m);
      expect(metrics).toMatch(/^resp_connections 1$/m);
      expect(metrics).toMatch(/^pgwire_queries_total [1-9]/m);
      expect(metrics).toMatch(/^pgwire_errors_total 1$/m);
    } finally {
      redis.disconnect();
      await client.end();
    }
  });

  it("serves nothing unless enabled; troupe dev enables it, and skips a busy port", async () => {
    const off = create({});
    await off.start();
    expect(off.protocols?.resp).toBeUndefined();
    expect(off.actors).toBeUndefined();

    const first = create({ resp: { enabled: true, port: 0 } });
    await first.start();
    const busy = first.protocols?.resp?.port() as number;
    const config = enableDevProtocols(
      parseRuntimeConfig({
        storage: { url: "memory:" },
        server: { port: 0 },
        resp: { port: busy },
        pgwire: { port: 0 },
      }),
    );
    expect(config.resp.enabled).toBe(true);
    expect(config.pgwire.enabled).toBe(true);
    const second = createRuntime(config, {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
    });
    runtimes.push(second);
    await second.start();
    expect(second.protocols?.resp).toBeUndefined();
    expect(second.protocols?.pgwire?.port()).toBeGreaterThan(0);

    expect(
      enableDevProtocols({ ...config, resp: { ...config.resp, enabled: false } }).resp.enabled,
    ).toBe(false);
  });

  it("refuses a bad resp section, naming the field", () => {
    expect(() => parseRuntimeConfig({ resp: { port: 70_000 } })).toThrow(
      "resp.port: expected 0-65535",
    );
    expect(() => parseRuntimeConfig({ resp: { nope: 1 } })).toThrow("resp.nope: unknown option");
  });
});
