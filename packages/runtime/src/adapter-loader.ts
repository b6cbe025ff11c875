// The adapters are optional peer dependencies of the runtime: each is imported only when a URL
// needs it, so installing the runtime does not pull better-sqlite3, pg, ioredis, nats and etcd3.
import { TroupeError } from "@troupe/core";

/** The name of an adapter package. */
export type AdapterPackage =
  | "@troupe/etcd"
  | "@troupe/sqlite"
  | "@troupe/postgres"
  | "@troupe/redis"
  | "@troupe/nats";

/** The adapter modules the runtime loads on demand, by package name. */
export interface AdapterModules extends Record<AdapterPackage, unknown> {
  readonly "@troupe/etcd": typeof import("@troupe/etcd");
  readonly "@troupe/sqlite": typeof import("@troupe/sqlite");
  readonly "@troupe/postgres": typeof import("@troupe/postgres");
  readonly "@troupe/redis": typeof import("@troupe/redis");
  readonly "@troupe/nats": typeof import("@troupe/nats");
}

/**
 * Imports an adapter package by name. The default is the runtime's own `import()`, resolved from
 * where the runtime is installed; tests inject others.
 */
export type AdapterImporter = (name: AdapterPackage) => Promise<unknown>;

// Literal specifiers, so bundlers and `tsup` see each dependency for what it is.
const IMPORTS: { readonly [name in AdapterPackage]: () => Promise<AdapterModules[name]> } = {
  "@troupe/etcd": () => import("@troupe/etcd"),
  "@troupe/sqlite": () => import("@troupe/sqlite"),
  "@troupe/postgres": () => import("@troupe/postgres"),
  "@troupe/redis": () => import("@troupe/redis"),
  "@troupe/nats": () => import("@troupe/nats"),
};

/** Imports `name` with the runtime's own resolution. */
export const importAdapter: AdapterImporter = (name) => IMPORTS[name]();

const NOT_FOUND_CODES = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]);

/**
 * True when `error` says `name` itself cannot be found, rather than something it imports (the
 * adapter is installed but its database client is not, or fails to load).
 */
export function isPackageMissing(error: unknown, name: string): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== "string" || !NOT_FOUND_CODES.has(code) || typeof message !== "string") {
    return false;
  }
  return [`'${name}'`, `"${name}"`].some((quoted) => message.includes(quoted));
}

/**
 * Imports the adapter package `name` for `use` (e.g. `postgres:// URLs`). A package that is not
 * installed throws `UNAVAILABLE` saying what to install; one that is installed but fails to load
 * throws `UNAVAILABLE` with the reason and the original error as `cause`.
 */
export async function loadAdapter<N extends AdapterPackage>(
  name: N,
  use: string,
  importer: AdapterImporter = importAdapter,
): Promise<AdapterModules[N]> {
  try {
    return (await importer(name)) as AdapterModules[N];
  } catch (error) {
    if (isPackageMissing(error, name)) {
      throw new TroupeError(
        "UNAVAILABLE",
        `install ${name} to use ${use} (npm install ${name}); the runtime loads it only when needed`,
        { cause: error, details: { package: name } },
      );
    }
    throw new TroupeError(
      "UNAVAILABLE",
      `cannot load ${name} for ${use}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { package: name } },
    );
  }
}
