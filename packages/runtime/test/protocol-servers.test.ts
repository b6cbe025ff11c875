import { noopLogger } from "@troupe/core";
import { Redis } from "ioredis";
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

function create(input: RuntimeConfigInput): Runtime {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    { logger: noopLogger, inngest: false, dashboardDir: false },
  );
  runtimes.push(runtime);
  return runtime;
}

describe("protocol servers in the runtime", () => {
  it("serves Redis clients from the runtime's actors, behind its token, with events into flows", async () => {
    const runtime = create({ auth: { token: "t0ken" }, resp: { enabled: true, port: 0 } });
    await runtime.start();
    const port = runtime.protocols?.resp?.port();
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

  it("serves nothing unless enabled; troupe dev enables it, and skips a busy port", async () => {
    const off = create({});
    await off.start();
    expect(off.protocols?.resp).toBeUndefined();
    expect(off.actors).toBeUndefined();

    const first = create({ resp: { enabled: true, port: 0 } });
    await first.start();
    const busy = first.protocols?.resp?.port() as number;
    const config = enableDevProtocols(
      parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, resp: { port: busy } }),
    );
    expect(config.resp.enabled).toBe(true);
    const second = createRuntime(config, { logger: noopLogger, inngest: false, dashboardDir: false });
    runtimes.push(second);
    await second.start();
    expect(second.protocols?.resp).toBeUndefined();

    expect(
      enableDevProtocols({ ...config, resp: { ...config.resp, enabled: false } }).resp.enabled,
    ).toBe(false);
  });

  it("refuses a bad resp section, naming the field", () => {
    expect(() => parseRuntimeConfig({ resp: { port: 70_000 } })).toThrow("resp.port: expected 0-65535");
    expect(() => parseRuntimeConfig({ resp: { nope: 1 } })).toThrow("resp.nope: unknown option");
  });
});
