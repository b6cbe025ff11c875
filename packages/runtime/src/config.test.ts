import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TroupeError } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  configFromEnv,
  DEFAULT_STORAGE_URL,
  loadRuntimeConfig,
  missingStartSettings,
  parseRuntimeConfig,
} from "./config.js";

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-config-"));
  scratch.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function errorOf(run: () => unknown): TroupeError {
  try {
    run();
  } catch (error) {
    if (TroupeError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected an error");
}

describe("parseRuntimeConfig", () => {
  it("fills in the defaults: SQLite under ./.troupe, port 8288, info logs, no auth", () => {
    const config = parseRuntimeConfig({});
    expect(config.storage.url).toBe(DEFAULT_STORAGE_URL);
    expect(config.server.port).toBe(8288);
    expect(config.server.host).toBeUndefined();
    expect(config.log.level).toBe("info");
    expect(config.auth.token).toBeUndefined();
    expect(config.inngest.eventKeys).toEqual([]);
    expect(config.apps).toEqual([]);
    expect(config.shutdownTimeoutMs).toBe(30_000);
  });

  it.each([
    [{ storage: { url: "" } }, "storage.url"],
    [{ storage: { url: 5 } }, "storage.url"],
    [{ storage: { schema: "Bad-Schema" } }, "storage.schema"],
    [{ storage: { prefix: "" } }, "storage.prefix"],
    [{ storage: { queueName: "" } }, "storage.queueName"],
    [{ server: { port: 70000 } }, "server.port"],
    [{ server: { port: 1.5 } }, "server.port"],
    [{ server: { port: "8288" } }, "server.port"],
    [{ server: { host: "" } }, "server.host"],
    [{ inngest: { signingKey: "not a key" } }, "inngest.signingKey"],
    [{ inngest: { signingKeyFallback: "signkey-prod-xyz" } }, "inngest.signingKeyFallback"],
    [{ inngest: { eventKeys: [""] } }, "inngest.eventKeys.0"],
    [{ auth: { token: "" } }, "auth.token"],
    [{ log: { level: "loud" } }, "log.level"],
    [{ flows: { workerConcurrency: 0 } }, "flows.workerConcurrency"],
    [{ apps: ["ftp://example.com"] }, "apps.0"],
    [{ shutdownTimeoutMs: -1 }, "shutdownTimeoutMs"],
    [{ appResync: "yes" }, "appResync"],
    [{ inngest: { checkpointing: 1 } }, "inngest.checkpointing"],
    [{ storage: { url: "sqlite:x" }, apps: "http://a.test" }, "apps"],
    [{ storage: { url: "sqlite:x", colour: "red" } }, "storage.colour"],
    [{ sever: {} }, "sever"],
  ])("names the bad field in %j", (input, field) => {
    const error = errorOf(() => parseRuntimeConfig(input));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });
});

describe("configFromEnv and loadRuntimeConfig", () => {
  it("maps every TROUPE_* variable onto its field", () => {
    const { config } = configFromEnv({
      TROUPE_STORAGE_URL: "postgres://db/troupe",
      TROUPE_PORT: "9000",
      TROUPE_HOST: "0.0.0.0",
      TROUPE_SIGNING_KEY: "signkey-prod-abcd",
      TROUPE_SIGNING_KEY_FALLBACK: "signkey-prod-ef01",
      TROUPE_EVENT_KEY: "one, two",
      TROUPE_AUTH_TOKEN: "secret",
      TROUPE_LOG_LEVEL: "debug",
      TROUPE_APPS: "http://localhost:3000/api/inngest",
      TROUPE_SHUTDOWN_TIMEOUT_MS: "1000",
      UNRELATED: "x",
      TROUPE_PORT_EMPTY: "",
    });
    expect(parseRuntimeConfig(config)).toMatchObject({
      storage: { url: "postgres://db/troupe" },
      server: { port: 9000, host: "0.0.0.0" },
      inngest: {
        signingKey: "signkey-prod-abcd",
        signingKeyFallback: "signkey-prod-ef01",
        eventKeys: ["one", "two"],
      },
      auth: { token: "secret" },
      log: { level: "debug" },
      apps: ["http://localhost:3000/api/inngest"],
      shutdownTimeoutMs: 1000,
    });
  });

  it("names the variable a bad value came from", async () => {
    await expect(loadRuntimeConfig({ env: { TROUPE_PORT: "eighty" } })).rejects.toThrow(
      /^server\.port: .*\(from TROUPE_PORT\)$/,
    );
  });

  it("lets the environment override the file, and flags override both", async () => {
    const file = tempFile(
      "troupe.config.json",
      JSON.stringify({
        storage: { url: "sqlite:./from-file.db" },
        server: { port: 1000 },
        log: { level: "warn" },
      }),
    );
    const config = await loadRuntimeConfig({
      file,
      env: { TROUPE_STORAGE_URL: "sqlite:./from-env.db", TROUPE_PORT: "2000" },
      overrides: { server: { port: 3000 } },
    });
    expect(config.storage.url).toBe("sqlite:./from-env.db");
    expect(config.server.port).toBe(3000);
    expect(config.log.level).toBe("warn");
  });

  it("loads a TypeScript config file through tsx", async () => {
    const file = tempFile(
      "troupe.config.ts",
      'const port: number = 4321;\nexport default { server: { port }, storage: { url: "memory:" } };\n',
    );
    const config = await loadRuntimeConfig({ file, env: {} });
    expect(config.server.port).toBe(4321);
    expect(config.storage.url).toBe("memory:");
  });

  it("explains a missing, malformed or non-object config file", async () => {
    await expect(
      loadRuntimeConfig({ file: "/nonexistent/troupe.config.json", env: {} }),
    ).rejects.toThrow(/config file .*troupe\.config\.json does not exist/);
    await expect(
      loadRuntimeConfig({ file: tempFile("troupe.config.json", "{ nope"), env: {} }),
    ).rejects.toThrow(/^config: .* is not valid JSON/);
    await expect(
      loadRuntimeConfig({ file: tempFile("troupe.config.json", "[1]"), env: {} }),
    ).rejects.toThrow(/must hold a JSON object/);
    await expect(
      loadRuntimeConfig({ file: tempFile("troupe.config.yaml", "a: 1"), env: {} }),
    ).rejects.toThrow(/expected a \.json, \.ts/);
  });
});

describe("missingStartSettings", () => {
  it("names every setting start mode lacks, with how to set it", () => {
    const missing = missingStartSettings(parseRuntimeConfig({}));
    expect(missing.map((setting) => setting.field)).toEqual([
      "inngest.signingKey",
      "inngest.eventKeys",
      "auth.token",
    ]);
    expect(missing[0]?.message).toContain("TROUPE_SIGNING_KEY");
    expect(missing[1]?.message).toContain("TROUPE_EVENT_KEY");
    expect(missing[2]?.message).toContain("TROUPE_AUTH_TOKEN");
  });

  it("is empty once the signing key, an event key and the token are set", () => {
    const config = parseRuntimeConfig({
      inngest: { signingKey: "signkey-prod-0123456789abcdef", eventKeys: ["ek"] },
      auth: { token: "secret" },
    });
    expect(missingStartSettings(config)).toEqual([]);
  });
});
