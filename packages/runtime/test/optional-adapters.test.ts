import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const hooks = fileURLToPath(new URL("./fixtures/without-adapters.mjs", import.meta.url));
const script = fileURLToPath(new URL("./fixtures/runtime-alone.ts", import.meta.url));

/** Runs the fixture with the adapters unresolvable; resolves to its JSON lines. */
function runAlone(): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--import", hooks, "--conditions=source", script],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`exited with ${String(code)}: ${errors}`));
      else
        resolve(
          out
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line)),
        );
    });
  });
}

describe("the runtime without its optional adapter packages", () => {
  it("serves on memory: and names the package to install for every other URL", async () => {
    const lines = await runAlone();
    expect(lines).toEqual([
      { check: "memory", health: 200 },
      {
        check: "postgres://db/app",
        ready: expect.stringMatching(/^install @troupe\/postgres to use postgres:\/\/ URLs/),
      },
      {
        check: "redis://cache:6379",
        ready: expect.stringMatching(/^install @troupe\/redis to use redis:\/\/ URLs/),
      },
      {
        check: "sqlite::memory:",
        ready: expect.stringMatching(/^install @troupe\/sqlite to use sqlite: URLs/),
      },
      {
        check: "start on sqlite",
        start: expect.stringMatching(/^install @troupe\/sqlite to use sqlite: URLs/),
      },
    ]);
  }, 60_000);
});
