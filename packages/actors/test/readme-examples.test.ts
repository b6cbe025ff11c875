import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "troupe-actors-readme-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The examples compile under the project's strict settings in the package's typecheck step
// (`tsc --noEmit -p examples`), beside the package's own sources, not in a test of their own.
describe("README examples", () => {
  it("the SQLite counter is examples/sqlite-counter.ts verbatim, and keeps its count across runs", async () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8");
    const example = readFileSync(join(packageDir, "examples/sqlite-counter.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    const counts: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { stdout } = await run(
        process.execPath,
        ["--import", "tsx", "--conditions=source", "examples/sqlite-counter.ts"],
        { cwd: packageDir, env: { ...process.env, ACTORS_DB: join(scratch, "actors.db") } },
      );
      counts.push(stdout.trim());
    }
    expect(counts).toEqual(["1", "2"]);
  }, 60_000);
});
