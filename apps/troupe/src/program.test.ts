import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_STORAGE_URL, SCOPES } from "@troupe/runtime";
import { type Command, CommanderError } from "commander";
import { afterEach, describe, expect, it } from "vitest";
import { DEV_STORAGE_HELP } from "./commands/dev.js";
import { runDoctor } from "./commands/doctor.js";
import { createProgram } from "./program.js";
import { VERSION } from "./version.js";

const bin = fileURLToPath(new URL("../bin/troupe.mjs", import.meta.url));
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-cli-"));
  scratch.push(dir);
  return dir;
}

function capture(program: Command): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  program.exitOverride().configureOutput({
    writeOut: (text) => out.push(text),
    writeErr: (text) => err.push(text),
  });
  for (const command of program.commands) command.exitOverride();
  return { out, err };
}

async function parse(args: string[]) {
  const program = createProgram();
  const output = capture(program);
  let exit: CommanderError | undefined;
  try {
    await program.parseAsync(["node", "troupe", ...args]);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    exit = error;
  }
  return { ...output, exit };
}

describe("troupe program", () => {
  it("prints its version from package.json", async () => {
    const { out, exit } = await parse(["--version"]);
    expect(out.join("")).toBe(`${VERSION}\n`);
    expect(exit?.exitCode).toBe(0);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("imports the runtime and SQLite only inside the commands that use them", () => {
    const src = fileURLToPath(new URL(".", import.meta.url));
    const eager = /^import\s+(?!type\b)[^;]*?from\s+"@troupe\/(runtime|sqlite)"/m;
    const files = readdirSync(src, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"));
    expect(files).toContain(path.join("commands", "dev.ts"));
    expect(files.filter((file) => eager.test(readFileSync(path.join(src, file), "utf8")))).toEqual(
      [],
    );
  });

  it("shows the runtime's default storage and scopes in help, which it prints without the runtime", () => {
    expect(DEV_STORAGE_HELP).toBe(DEFAULT_STORAGE_URL);
    const program = createProgram();
    const command = (...names: string[]) =>
      names.reduce<Command | undefined>(
        (parent, name) => parent?.commands.find((child) => child.name() === name),
        program,
      );
    expect(command("dev")?.helpInformation()).toContain(
      `storage URL (default ${DEFAULT_STORAGE_URL})`,
    );
    expect(command("token", "create")?.description()).toContain(`scopes: ${SCOPES.join(", ")}`);
  });

  it("lists the registered subcommands in --help", async () => {
    const { out } = await parse(["--help"]);
    expect(out.join("")).toContain("doctor");
    expect(out.join("")).toContain("Usage: troupe");
  });

  it("rejects an unknown command with a non-zero exit and a hint", async () => {
    const { err, exit } = await parse(["frobnicate"]);
    expect(exit?.exitCode).toBe(1);
    expect(err.join("")).toContain("unknown command 'frobnicate'");
  });

  it("registers command groups given by composed packages", async () => {
    const seen: string[] = [];
    const program = createProgram([
      (root) => {
        root.command("hello <name>").action((name: string) => {
          seen.push(name);
        });
      },
    ]);
    capture(program);
    await program.parseAsync(["node", "troupe", "hello", "world"]);
    expect(seen).toEqual(["world"]);
  });
});

describe("troupe doctor", () => {
  it("passes every check on the embedded SQLite default and leaves no items behind", async () => {
    const dir = tempDir();
    const checks = await runDoctor(dir);
    expect(checks.map((check) => [check.check, check.ok])).toEqual([
      ["store: guarded commit", true],
      ["queue: enqueue, claim, ack", true],
      ["pubsub: publish, receive", true],
    ]);
    // A second run on the same file finds it clean (the guarded key was deleted).
    expect((await runDoctor(dir)).every((check) => check.ok)).toBe(true);
  });

  it("runs from the real bin, as `pnpm troupe doctor` does", () => {
    const dir = tempDir();
    const result = spawnSync(process.execPath, [bin, "doctor", "--data", dir], {
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("troupe doctor");
    expect(result.stdout.match(/^ {2}ok /gm)).toHaveLength(3);
  });
});
