import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import type { SqliteDatabase } from "@troupe/sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RuntimeMode } from "../src/config.js";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

// The runtime keeps its SQLite connection to itself; record the ones it opens to ask them.
const opened: SqliteDatabase[] = [];
vi.mock("@troupe/sqlite", async (importOriginal) => {
  const original = await importOriginal<typeof import("@troupe/sqlite")>();
  return {
    ...original,
    openSqliteDatabase: (...args: Parameters<typeof original.openSqliteDatabase>) => {
      const database = original.openSqliteDatabase(...args);
      opened.push(database);
      return database;
    },
  };
});

const STRONG = "tok-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e";
const START: RuntimeConfigInput = {
  auth: { token: STRONG },
  inngest: { signingKey: `signkey-prod-${"0123456789abcdef".repeat(2)}`, eventKeys: [STRONG] },
};

const runtimes: Runtime[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  opened.length = 0;
});

/** `PRAGMA synchronous` of the connection a runtime in `mode` opens: 1 NORMAL, 2 FULL. */
async function synchronousOf(mode: RuntimeMode, input: RuntimeConfigInput): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-durability-"));
  dirs.push(dir);
  const before = opened.length;
  const runtime = createRuntime(
    parseRuntimeConfig({ ...input, storage: { url: `sqlite:${dir}/t.db`, ...input.storage } }),
    { mode, logger: noopLogger, dashboardDir: false },
  );
  runtimes.push(runtime);
  // The SQLite adapter is imported on first use: wait until this runtime has opened its file.
  await vi.waitFor(() => expect(opened.length).toBeGreaterThan(before));
  const database = opened.at(-1);
  return database?.pragma("synchronous", { simple: true });
}

describe("SQLite durability (storage.synchronous)", () => {
  it("fsyncs every commit in start mode and not in dev, unless configured", async () => {
    expect(await synchronousOf("start", START)).toBe(2);
    expect(await synchronousOf("dev", {})).toBe(1);
    expect(await synchronousOf("dev", { storage: { synchronous: "full" } })).toBe(2);
    expect(await synchronousOf("start", { ...START, storage: { synchronous: "normal" } })).toBe(1);
  });

  it("names the setting when the value is wrong", () => {
    expect(() => parseRuntimeConfig({ storage: { synchronous: "off" } })).toThrow(
      /^storage\.synchronous: expected normal or full/,
    );
  });
});
