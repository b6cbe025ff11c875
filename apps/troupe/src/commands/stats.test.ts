import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { registerStatsCommands } from "./stats.js";

// The Actor Core v3 golden vectors and sample registry, kept in the stats package.
const statsRoot = fileURLToPath(new URL("../../../../packages/stats/", import.meta.url));
const goldenRoot = path.join(statsRoot, "test", "golden");
if (!existsSync(goldenRoot)) {
  throw new Error(`Actor Core v3 golden data not found at ${goldenRoot}`);
}
const registryFile = path.join(statsRoot, "examples", "Registry.example.yml");
const cases = readdirSync(goldenRoot).sort();
const bin = fileURLToPath(new URL("../../bin/troupe.mjs", import.meta.url));

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-stats-cli-"));
  scratch.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function caseArgs(name: string): string[] {
  const dir = path.join(goldenRoot, name);
  const layers = path.join(dir, "cap_layer_registry.json");
  return [
    "--registry",
    registryFile,
    ...(existsSync(layers) ? ["--layers", layers] : []),
    path.join(dir, "subsystems.json"),
  ];
}

function expected(name: string): unknown {
  return JSON.parse(readFileSync(path.join(goldenRoot, name, "expected.json"), "utf8"));
}

/** Runs `troupe <args>` in process on a fresh program, capturing output. */
async function run(args: string[]) {
  const program = new Command("troupe").version("0.0.0-test", "-v, --version");
  registerStatsCommands(program);
  const out: string[] = [];
  const err: string[] = [];
  program.exitOverride().configureOutput({
    writeOut: (text) => out.push(text),
    writeErr: (text) => err.push(text),
  });
  const overrideAll = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: (text) => out.push(text),
      writeErr: (text) => err.push(text),
    });
    for (const child of command.commands) overrideAll(child);
  };
  overrideAll(program);
  let error: unknown;
  try {
    await program.parseAsync(["node", "troupe", ...args]);
  } catch (caught) {
    error = caught;
  }
  return { out: out.join(""), err: err.join(""), error };
}

describe("troupe stats resolve (in process)", () => {
  it("covers all ten golden vectors", () => {
    expect(cases).toHaveLength(10);
  });

  for (const name of cases) {
    it(`passes golden vector ${name}`, async () => {
      const { out, error } = await run(["stats", "resolve", ...caseArgs(name)]);
      expect(error).toBeUndefined();
      expect(JSON.parse(out)).toStrictEqual(expected(name));
    });
  }

  it("reports --version N (which is not the program's own --version)", async () => {
    const { out, error } = await run([
      "stats",
      "resolve",
      "--version",
      "7",
      ...caseArgs(cases[0] as string),
    ]);
    expect(error).toBeUndefined();
    expect(JSON.parse(out).Version).toBe(7);
  });

  it("rejects a bad --version, a missing file and malformed input with named errors", async () => {
    const bad = await run(["stats", "resolve", "--version", "x", ...caseArgs(cases[0] as string)]);
    expect(String(bad.error)).toMatch(/--version: expected an integer/);

    const missing = await run([
      "stats",
      "resolve",
      "--registry",
      "/nonexistent/registry.yml",
      "in.json",
    ]);
    expect(String(missing.error)).toMatch(
      /--registry: cannot read \/nonexistent\/registry\.yml: no such file/,
    );

    const input = tempFile(
      "outputs.json",
      JSON.stringify([
        {
          primary: [
            { dimension: "strength", bucket: "FLAT", value: 1, system: "race", priority: -2 },
          ],
          derived: [],
          caps: [],
          meta: { system: "race" },
        },
      ]),
    );
    const malformed = await run(["stats", "resolve", "--registry", registryFile, input]);
    expect(String(malformed.error)).toContain(
      `file ${input}, subsystem "race", dimension "strength", field [0].primary[0].priority`,
    );

    const scope = tempFile(
      "scope.json",
      JSON.stringify([
        {
          primary: [],
          derived: [],
          caps: [
            {
              system: "w",
              dimension: "strength",
              mode: "HARD_MAX",
              kind: "max",
              value: 1,
              scope: "MOON",
            },
          ],
          meta: { system: "w" },
        },
      ]),
    );
    const badScope = await run(["stats", "resolve", "--registry", registryFile, scope]);
    expect(String(badScope.error)).toMatch(
      /file .*scope\.json, subsystem "w", dimension "strength", field caps\[0\]\.scope/,
    );

    const registry = tempFile(
      "registry.yml",
      "dimensions:\n  strength: { use_pipeline: true, clamp_default: { min: 5, max: 1 } }\n",
    );
    const badRegistry = await run(["stats", "resolve", "--registry", registry, input]);
    expect(String(badRegistry.error)).toMatch(
      /file .*registry\.yml, dimension "strength", field dimensions\.strength\.clamp_default\.min: min 5 is above max 1/,
    );
  });
});

describe("troupe stats explain (in process)", () => {
  it("prints a readable breakdown of one dimension", async () => {
    const { out, error } = await run([
      "stats",
      "explain",
      "--dimension",
      "crit_rate",
      ...caseArgs("case09_prioritized_override"),
    ]);
    expect(error).toBeUndefined();
    expect(out).toContain("dimension crit_rate: pipeline, clamp_default [0, 1]");
    expect(out).toMatch(/1\s+FLAT\s+0\.2\s+items\s+0/);
    expect(out).toMatch(
      /WORLD\s+1\s+0\s+clamp_default\s+0\.25\s+OVERRIDE 0\.25 by world \(priority 10\)/,
    );
    expect(out).toMatch(/TOTAL\s+1\s+0\s+clamp_default\s+0\.8\s+BASELINE\+ADDITIVE of items 0\.8/);
    expect(out).toContain(
      "ACROSS LAYERS (PRIORITIZED_OVERRIDE): Min 0 from clamp_default, Max 0.25 from WORLD",
    );
    expect(out).toContain("value = 0.2 (within bounds)");
  });

  it("prints JSON with --json", async () => {
    const { out } = await run([
      "stats",
      "explain",
      "--json",
      "--dimension",
      "strength",
      ...caseArgs("case02_realm_world_total"),
    ]);
    const explanation = JSON.parse(out);
    expect(explanation.primary.value).toBe(550);
    expect(explanation.across).toMatchObject({ min: 0, max: 550, maxFrom: "WORLD" });
  });
});

describe("troupe stats (the real CLI, spawned)", () => {
  const spawn = (args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });

  /** Like `spawn`, without blocking the worker: settles with the exit status, whatever it is. */
  const launch = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [bin, ...args],
        { encoding: "utf8", timeout: 60_000 },
        (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
      );
    });

  // Ten launches of the real CLI (each a launcher and a tsx child), as many at a time as the
  // machine has cores: mostly start-up, one after another they took 40-85 s of a one-worker run.
  // On a busy 2-core machine that still outgrows the default 30 s budget, so this test gets its own.
  it("passes every golden vector through `troupe stats resolve`", async () => {
    const pending = [...cases];
    const launcher = async () => {
      for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
        const result = await launch(["stats", "resolve", ...caseArgs(name)]);
        expect(result.stderr, name).toBe("");
        expect(result.status, name).toBe(0);
        expect(JSON.parse(result.stdout), name).toStrictEqual(expected(name));
      }
    };
    await Promise.all(Array.from({ length: os.availableParallelism() }, launcher));
  }, 180_000);

  it("prints a clear error on stderr and exits non-zero on bad input", () => {
    const input = tempFile("broken.json", "[{ not json");
    const result = spawn(["stats", "resolve", "--registry", registryFile, input]);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/file .*broken\.json, field \(root\): not valid JSON/);
  });
});
