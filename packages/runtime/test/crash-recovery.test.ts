import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { waitFor } from "@troupe/testkit";
import { afterEach, describe, expect, it } from "vitest";

const server = fileURLToPath(new URL("./fixtures/dev-crash-server.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the dev server on `database` in `cwd`; resolves to its URL once it listens. */
async function startServer(cwd: string, database: string, marker: string, hang: boolean) {
  const child = spawn(
    process.execPath,
    ["--import", tsx, "--conditions=source", server, database, marker],
    { cwd, env: { ...process.env, HANG_STEP: hang ? "1" : "0" } },
  );
  children.push(child);
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\{"url":"([^"]+)"\}/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", () => reject(new Error(`the server exited before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, url, exited };
}

const attempts = (marker: string) =>
  existsSync(marker) ? readFileSync(marker, "utf8").trim().split("\n") : [];

describe("a dev server SIGKILLed mid-step and restarted on the same SQLite file", () => {
  it("takes back its leases at once: the run finishes long before the 60 s lease lapses", async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), "troupe-crash-recovery-"));
    dirs.push(cwd);
    const database = path.join(cwd, "troupe.db");
    const marker = path.join(cwd, "attempts.txt");

    const first = await startServer(cwd, database, marker, true);
    const sent = await fetch(`${first.url}/e/dev-key`, {
      method: "POST",
      body: JSON.stringify({ name: "test/resume", data: {} }),
    });
    const [eventId] = ((await sent.json()) as { ids: string[] }).ids;
    await waitFor(() => attempts(marker).length === 1, {
      timeoutMs: 15_000,
      what: "the slow step to start",
    });
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await startServer(cwd, database, marker, false);
    let status = "";
    // The lease is 60 s: a run that finishes within this budget was resumed by taking it back.
    await waitFor(
      async () => {
        const response = await fetch(`${second.url}/v1/events/${eventId}/runs`);
        const runs = ((await response.json()) as { data: { status: string }[] }).data;
        status = runs[0]?.status ?? "";
        return status === "Completed";
      },
      { timeoutMs: 20_000, what: "the run to complete after the restart" },
    );
    expect(status).toBe("Completed");
    // The slow step ran once per process: in the killed one, then once more after the restart.
    const pids = attempts(marker);
    expect(pids).toHaveLength(2);
    expect(pids[0]).toBe(String(first.child.pid));
    expect(pids[1]).toBe(String(second.child.pid));
    second.child.kill("SIGTERM");
    await second.exited;
  }, 60_000);
});
