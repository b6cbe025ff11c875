import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runReadmeExample } from "@troupe/testkit";
import { describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("README usage example", () => {
  it("is examples/usage.ts verbatim, and runs as written", async () => {
    const { readme, example, stdout } = await runReadmeExample(packageDir);
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    expect(stdout.trim()).toBe("[ { name: 'app/hello', n: '1' } ]");
  }, 30_000);
});
