import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("README usage", () => {
  it("is examples/transfer.ts verbatim, and runs as written", async () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8");
    const example = readFileSync(join(packageDir, "examples/transfer.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--conditions=source", "examples/transfer.ts"],
      { cwd: packageDir },
    );
    expect(stdout.trim()).toBe("130");
  }, 60_000);

  it("Sagas is examples/order-saga.ts verbatim, and runs as written", async () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8");
    const example = readFileSync(join(packageDir, "examples/order-saga.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--conditions=source", "examples/order-saga.ts"],
      { cwd: packageDir },
    );
    expect(stdout.trim().split("\n")).toEqual(["completed 9", "compensated 9"]);
  }, 60_000);
});
