import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { TroupeError } from "@troupe/core";
import { afterAll, describe, expect, it } from "vitest";
import { type AdapterImporter, type AdapterPackage, loadAdapter } from "./adapter-loader.js";

// An importer that resolves from an empty folder, where no adapter package is installed: the
// same failure a user meets after installing the runtime alone.
const bare = mkdtempSync(path.join(os.tmpdir(), "troupe-no-adapters-"));
afterAll(() => rmSync(bare, { recursive: true, force: true }));
async function importerFromBareFolder(): Promise<AdapterImporter> {
  const file = path.join(bare, "importer.mjs");
  writeFileSync(file, "export default (name) => import(name);\n");
  const loaded = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
    default: AdapterImporter;
  };
  return loaded.default;
}

async function failure(work: Promise<unknown>): Promise<TroupeError> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!TroupeError.isInstance(error))
    throw new Error(`expected a TroupeError, got ${String(error)}`);
  return error;
}

describe("loadAdapter", () => {
  it("imports each adapter package with its factories", async () => {
    const factories: Record<AdapterPackage, string> = {
      "@troupe/etcd": "createEtcdStore",
      "@troupe/sqlite": "createSqliteStore",
      "@troupe/postgres": "createPostgresStore",
      "@troupe/redis": "createRedisStore",
      "@troupe/nats": "createNatsTransport",
    };
    for (const [name, factory] of Object.entries(factories) as [AdapterPackage, string][]) {
      const loaded = (await loadAdapter(name, "a test")) as Record<string, unknown>;
      expect(typeof loaded[factory], name).toBe("function");
    }
  });

  it("names the package to install when it is not installed", async () => {
    const importer = await importerFromBareFolder();
    const error = await failure(loadAdapter("@troupe/postgres", "postgres:// URLs", importer));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toMatch(/^install @troupe\/postgres to use postgres:\/\/ URLs/);
    expect(error.details.package).toBe("@troupe/postgres");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("tells a broken install from a missing one: a dependency of the adapter that cannot load", async () => {
    const importer: AdapterImporter = async () => {
      throw Object.assign(new Error("Cannot find package 'pg' imported from /app/x.js"), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    };
    const error = await failure(loadAdapter("@troupe/postgres", "postgres:// URLs", importer));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toBe(
      "cannot load @troupe/postgres for postgres:// URLs: Cannot find package 'pg' imported from /app/x.js",
    );
  });
});
