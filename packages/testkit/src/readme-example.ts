import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

/** What {@link runReadmeExample} read and ran. */
export interface ReadmeExampleRun {
  /** The package's `README.md`. */
  readonly readme: string;
  /** The example file's text, to find verbatim in the README. */
  readonly example: string;
  /** What running the example printed. */
  readonly stdout: string;
}

/**
 * Reads a package's README and its usage example, and runs the example with Node (`tsx`, source
 * conditions) from the package folder, so a test can check the README shows the example verbatim
 * and that it prints what it says.
 */
export async function runReadmeExample(
  packageDir: string,
  examplePath = "examples/usage.ts",
): Promise<ReadmeExampleRun> {
  const readme = await readFile(join(packageDir, "README.md"), "utf8");
  const example = await readFile(join(packageDir, examplePath), "utf8");
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "--conditions=source", examplePath],
    { cwd: packageDir },
  );
  return { readme, example, stdout };
}
