import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Builds the image FROM scratch with podman, runs it read-only as its unprivileged user, and
// checks /health, the HEALTHCHECK, an event and a graceful SIGTERM stop. Skipped only when
// podman is not installed (tooling/ci/podman.sh installs it in CI).
const run = promisify(execFile);
const STAGE = fileURLToPath(new URL("../image/stage.sh", import.meta.url));
const onPath = (command: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const hasPodman = onPath("podman");
if (!hasPodman)
  console.warn("[image.test] skipped: podman is not installed (apt-get install podman runc)");

// crun (podman's default) refuses hosts with hybrid cgroups; runc runs there. Lowering the
// limits podman would raise keeps it working without CAP_SYS_RESOURCE (sandboxed CI machines).
const RUN_FLAGS = [
  ...(onPath("runc") ? ["--runtime", "runc"] : []),
  "--ulimit",
  "nofile=16384:16384",
  "--ulimit",
  "nproc=8192:8192",
];

const TAG = `localhost/troupe-test:${process.pid}`;
const NAME = `troupe-test-${process.pid}`;
const scratch: string[] = [];
let context = "";

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run("podman", args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitForHealth(url: string, attempts: number): Promise<Response> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return response;
      last = new Error(`status ${response.status}`);
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`no healthy /health at ${url}: ${String(last)}`);
}

describe.skipIf(!hasPodman)("the Troupe image (podman, FROM scratch)", () => {
  beforeAll(async () => {
    context = path.join(tempDir("troupe-image-"), "context");
    await run("bash", [STAGE, context], { maxBuffer: 16 * 1024 * 1024 });
    await podman("build", "--format", "docker", "--quiet", "-t", TAG, context);
  });
  afterAll(async () => {
    await podman("rm", "-f", NAME).catch(() => "");
    await podman("rmi", "-f", TAG).catch(() => "");
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("carries the runtime with SQLite and no other driver or database client", () => {
    const app = path.join(context, "rootfs", "app", "node_modules");
    expect(readdirSync(path.join(app, "@troupe")).sort()).toEqual([
      "core",
      "dashboard",
      "runtime",
      "sqlite",
      "stats",
    ]);
    const installed = readdirSync(path.join(app, ".pnpm")).join("\n");
    for (const client of [
      "pg@",
      "ioredis@",
      "nats@",
      "etcd3@",
      "@troupe+postgres",
      "@troupe+redis",
      "@troupe+nats",
      "@troupe+etcd",
    ]) {
      expect(installed).not.toContain(client);
    }
    expect(existsSync(path.join(context, "rootfs", "usr", "local", "bin", "node"))).toBe(true);
  });

  it("declares a non-root user, the /health check and troupe start", async () => {
    const inspect = async (field: string) =>
      JSON.parse(await podman("image", "inspect", TAG, "--format", `{{json .Config.${field}}}`));
    expect(await inspect("User")).toBe("10001:10001");
    expect((await inspect("Healthcheck")).Test).toEqual([
      "CMD",
      "/usr/local/bin/node",
      "/usr/local/lib/troupe/healthcheck.mjs",
    ]);
    expect(await inspect("Entrypoint")).toEqual(["/usr/local/bin/node", "/app/bin/troupe.mjs"]);
    expect(await inspect("Cmd")).toEqual(["start", "--config", "/etc/troupe/troupe.config.json"]);
  });

  it("starts read-only, answers /health, takes an event, and drains on SIGTERM with exit 0", async () => {
    const configDir = tempDir("troupe-image-config-");
    chmodSync(configDir, 0o755);
    const dataDir = tempDir("troupe-image-data-");
    // The image's user owns its working directory, as fsGroup arranges in Kubernetes.
    // Without root (rootless podman maps users), a world-writable folder does instead.
    if (process.getuid?.() === 0) chownSync(dataDir, 10001, 10001);
    else chmodSync(dataDir, 0o777);
    const eventKey = randomBytes(20).toString("hex");
    writeFileSync(
      path.join(configDir, "troupe.config.json"),
      JSON.stringify({
        inngest: {
          signingKey: `signkey-prod-${randomBytes(32).toString("hex")}`,
          eventKeys: [eventKey],
        },
        auth: { token: randomBytes(24).toString("hex") },
      }),
      { mode: 0o644 },
    );
    const port = await freePort();
    await podman(
      "run",
      "--detach",
      "--name",
      NAME,
      ...RUN_FLAGS,
      "--read-only",
      "--volume",
      `${configDir}:/etc/troupe:ro`,
      "--volume",
      `${dataDir}:/data`,
      "--publish",
      `127.0.0.1:${port}:8288`,
      TAG,
    );
    const url = `http://127.0.0.1:${port}`;
    const health = await waitForHealth(url, 120).catch(async (error: unknown) => {
      const logs = await run("podman", ["logs", NAME]).catch(() => ({ stdout: "", stderr: "" }));
      throw new Error(`${String(error)}\ncontainer output:\n${logs.stdout}${logs.stderr}`);
    });
    expect(await health.json()).toEqual({ status: 200, message: "OK" });
    // The image's own HEALTHCHECK command, run by podman inside the container.
    // Node's start-up inside it can take seconds on a loaded machine: a few tries.
    let healthcheck: unknown;
    for (let attempt = 0; attempt < 3 && healthcheck !== "healthy"; attempt++) {
      healthcheck = await podman("healthcheck", "run", NAME).then(
        () => "healthy",
        (error: unknown) => error,
      );
    }
    expect(healthcheck).toBe("healthy");

    const sent = await fetch(`${url}/e/${eventKey}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "deploy/checked", data: { from: "image.test" } }),
    });
    expect(sent.status).toBe(200);
    const body = (await sent.json()) as { ids: string[] };
    expect(body.ids).toHaveLength(1);

    await podman("stop", "--time", "30", NAME);
    const state = JSON.parse(await podman("inspect", NAME, "--format", "{{json .State}}"));
    expect(state.ExitCode).toBe(0);
    const logs = (await run("podman", ["logs", NAME])).stdout;
    expect(logs).toContain("SIGTERM");
    expect(logs).toContain('"msg":"stopped"');
    // The event was stored in the SQLite file under the mounted /data.
    expect(readdirSync(path.join(dataDir, ".troupe"))).toContain("troupe.db");
  });
});
