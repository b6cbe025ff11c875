import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

// What bin/troupe.mjs runs inside the workspace, spawned directly so the test's signals reach the
// server process itself (the path through the bin, which forwards them, is covered by the
// dashboard's troupe-dev browser test).
const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const troupeArgs = (args: string[]) => ["--import", tsx, "--conditions=source", main, ...args];

const scratch: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-dev-cli-"));
  scratch.push(dir);
  return dir;
}

/** Environment without TROUPE_* variables from the developer's shell. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("TROUPE_")) env[name] = value;
  }
  return { ...env, ...extra };
}

interface Spawned {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly url: Promise<string>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnTroupe(args: string[], cwd: string): Spawned {
  const child = spawn(process.execPath, troupeArgs(args), { cwd, env: cleanEnv() });
  children.push(child);
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /troupe \w+ — (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => reject(new Error(`troupe exited before listening:\n${output}`)));
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, url, exit };
}

describe("troupe dev", () => {
  it("serves on SQLite under ./.troupe, answers /health, and exits 0 on SIGTERM", async () => {
    const cwd = tempDir();
    const dev = spawnTroupe(["dev", "-p", "0", "-u", "http://127.0.0.1:9/api/inngest"], cwd);
    const url = await dev.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: 200, message: "OK" });
    // The Inngest API is mounted: an SDK's event send gets the reply it requires.
    const sent = await fetch(`${url}/e/dev-key`, {
      method: "POST",
      body: JSON.stringify({ name: "cli/test", data: {} }),
    });
    expect(((await sent.json()) as { status: number }).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    dev.child.kill("SIGTERM");
    expect(await dev.exit).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(cwd, ".troupe", "troupe.db"))).toBe(true);
    const output = dev.output();
    expect(output).toContain(`INNGEST_DEV=${url}`);
    expect(output).toContain("http://127.0.0.1:9/api/inngest");
    expect(output).toContain("app not synced; retrying");
    expect(output).toContain('"msg":"stopped"');
  });

  it("keeps the events it took across a restart on the same storage", async () => {
    const cwd = tempDir();
    const storage = `sqlite:${path.join(cwd, "data", "troupe.db")}`;
    const first = spawnTroupe(["dev", "-p", "0", "--storage", storage], cwd);
    const url = await first.url;
    const sent = await fetch(`${url}/e/dev-key`, {
      method: "POST",
      body: JSON.stringify({ name: "cli/kept", data: { n: 1 } }),
    });
    const [id] = ((await sent.json()) as { ids: string[] }).ids;
    first.child.kill("SIGINT");
    expect((await first.exit).code).toBe(0);

    const second = spawnTroupe(["dev", "-p", "0", "--storage", storage], cwd);
    const again = await second.url;
    const read = await fetch(`${again}/v1/events/${id}`);
    expect(JSON.stringify(await read.json())).toContain("cli/kept");
    second.child.kill("SIGTERM");
    expect((await second.exit).code).toBe(0);
  });

  it("rejects a bad port and an unknown storage scheme with the field named", () => {
    const cwd = tempDir();
    const badPort = spawnSync(process.execPath, troupeArgs(["dev", "-p", "http"]), {
      cwd,
      env: cleanEnv(),
      encoding: "utf8",
    });
    expect(badPort.status).not.toBe(0);
    expect(badPort.stderr).toContain("expected a port number");
    const badStorage = spawnSync(
      process.execPath,
      troupeArgs(["dev", "-p", "0", "--storage", "mysql://db/x"]),
      { cwd, env: cleanEnv(), encoding: "utf8" },
    );
    expect(badStorage.status).toBe(1);
    expect(badStorage.stderr).toContain('troupe: storage.url: unknown scheme "mysql:"');
  });
});

describe("troupe start", () => {
  const run = (args: string[], cwd: string, env: Record<string, string> = {}) =>
    spawnSync(process.execPath, troupeArgs(["start", ...args]), {
      cwd,
      env: cleanEnv(env),
      encoding: "utf8",
    });

  it("refuses to start without a config file", () => {
    const cwd = tempDir();
    const result = run([], cwd, {
      TROUPE_SIGNING_KEY: "signkey-prod-0123456789abcdef",
      TROUPE_EVENT_KEY: "ek",
      TROUPE_AUTH_TOKEN: "token-for-tests",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("troupe: config: troupe start needs a config file");
    expect(result.stderr).toContain(path.join(cwd, "troupe.config.json"));
  });

  it("lists every missing setting in one error", () => {
    const cwd = tempDir();
    const result = run([], cwd);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("troupe: troupe start is missing 4 settings:");
    expect(result.stderr).toContain("  - config: troupe start needs a config file");
    expect(result.stderr).toContain(
      "  - inngest.signingKey: required in start mode: set TROUPE_SIGNING_KEY",
    );
    expect(result.stderr).toContain(
      "  - inngest.eventKeys: at least one event key is required in start mode: set TROUPE_EVENT_KEY",
    );
    expect(result.stderr).toContain(
      "  - auth.token: required in start mode: set TROUPE_AUTH_TOKEN",
    );
  });

  it("refuses to start without a signing key, naming it and how to set it", () => {
    const cwd = tempDir();
    writeFileSync(
      path.join(cwd, "troupe.config.json"),
      JSON.stringify({ storage: { url: "sqlite::memory:" }, server: { port: 0 } }),
    );
    const result = run([], cwd, { TROUPE_EVENT_KEY: "ek", TROUPE_AUTH_TOKEN: "token-for-tests" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "troupe: inngest.signingKey: required in start mode: set TROUPE_SIGNING_KEY",
    );
  });

  it("starts with everything required from file and environment, then stops on SIGTERM", async () => {
    const cwd = tempDir();
    const file = path.join(cwd, "prod.json");
    writeFileSync(
      file,
      JSON.stringify({
        storage: { url: "sqlite::memory:" },
        inngest: { eventKeys: ["ek-3b9e1f7a2c6d0e8b4f1a5c9d7e3b2a6f"] },
      }),
    );
    const child = spawn(process.execPath, troupeArgs(["start", "-c", file, "-p", "0"]), {
      cwd,
      env: cleanEnv({
        // Start mode takes only strong secrets: 32+ characters, 80+ bits.
        TROUPE_SIGNING_KEY: `signkey-prod-${"0123456789abcdef".repeat(2)}`,
        TROUPE_AUTH_TOKEN: "token-for-tests-9f1c2a7e4b8d3f6a0c5e",
      }),
    });
    children.push(child);
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /troupe start — (http:\/\/\S+)/.exec(output);
        if (match?.[1]) resolve(match[1]);
      });
      child.once("exit", () => reject(new Error(output)));
    });
    // Loopback unless configured, and the banner says so.
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toMatch(/\n {2}bound {4}127\.0\.0\.1:\d+\n/);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${url}/metrics`, {
      headers: { authorization: "Bearer token-for-tests-9f1c2a7e4b8d3f6a0c5e" },
    });
    expect(metrics.status).toBe(200);
    // The REST API takes the hashed signing key (the runtime README's worked example), not the token.
    const hashed = createHash("sha256")
      .update(Buffer.from("0123456789abcdef".repeat(2), "hex"))
      .digest("hex");
    const events = await fetch(`${url}/v1/events`, {
      headers: { authorization: `Bearer signkey-prod-${hashed}` },
    });
    expect(events.status).toBe(200);
    const withToken = await fetch(`${url}/v1/events`, {
      headers: { authorization: "Bearer token-for-tests" },
    });
    expect(withToken.status).toBe(401);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
