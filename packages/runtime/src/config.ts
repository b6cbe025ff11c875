import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { invalidArgument, TroupeError, zodIssueError } from "@troupe/core";
import { z } from "zod";
import { runtimeActorsSchema } from "./actors-routes.js";
import { pgwireConfigSchema, respConfigSchema } from "./protocol-servers.js";
import { retentionConfigSchema } from "./retention-config.js";
import { securityConfigSchema } from "./security/security-config.js";
import { statsServiceConfigSchema } from "./stats/stats-config.js";

/** How the runtime runs: `dev` (local, permissive) or `start` (production, keys required). */
export type RuntimeMode = "dev" | "start";

/** The log levels the runtime accepts. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

/** The default storage: one SQLite file under `./.troupe/`, no server needed. */
export const DEFAULT_STORAGE_URL = "sqlite:./.troupe/troupe.db";

/** The default port, the one Inngest SDKs look for in dev mode. */
export const DEFAULT_PORT = 8288;

// Inngest signing keys are `signkey-<env>-<hex>`; the hex part is what gets hashed and HMAC'd, so
// anything else would fail only later, at the first signed request.
const SIGNING_KEY = /^(signkey-\w+-)?[0-9a-fA-F]+$/;

const signingKeySchema = z
  .string()
  .regex(
    SIGNING_KEY,
    "expected a signing key like signkey-prod-<hex> (hex digits after the prefix)",
  );

const urlListSchema = z.array(
  z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }),
);

const configShape = z.strictObject({
  server: z
    .strictObject({
      /** Interface to listen on. Default 127.0.0.1 (also in start: exposing it is a choice). */
      host: z.string().min(1, "expected a host name or address").optional(),
      /** Port to listen on (0 picks a free one). Default 8288. */
      port: z
        .number({ error: "expected a port number" })
        .int("expected an integer")
        .min(0, "expected 0-65535")
        .max(65_535, "expected 0-65535")
        .default(DEFAULT_PORT),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** `sqlite:<path>`, `sqlite::memory:`, `memory:`, `postgres://…`, `redis://…`. */
      url: z.string().min(1, "expected a storage URL").default(DEFAULT_STORAGE_URL),
      /** PostgreSQL schema for the tables. Default `troupe`. */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected 1-63 characters of a-z, 0-9 and _")
        .optional(),
      /** Redis key prefix. Default `troupe:`. */
      prefix: z.string().min(1, "expected a non-empty prefix").optional(),
      /** Queue name: runtimes sharing a database with different names share no work. */
      queueName: z.string().min(1, "expected a non-empty queue name").default("troupe"),
      /** SQLite durability per commit: `full` (fsync each commit) or `normal`. Default: full in start, normal in dev. */
      synchronous: z.enum(["normal", "full"], { error: "expected normal or full" }).optional(),
    })
    .prefault({}),
  inngest: z
    .strictObject({
      /** Signs calls to SDK apps and checks their API calls. Required in start mode. */
      signingKey: signingKeySchema.optional(),
      /** The previous key, accepted as well as `signingKey` while rotating keys. */
      signingKeyFallback: signingKeySchema.optional(),
      /**
       * When the rotation window closes (RFC 3339, e.g. `2026-12-07T00:00:00Z`): from then on
       * `signingKeyFallback` is refused. Unset: the fallback is accepted until it is removed.
       */
      signingKeyFallbackUntil: z.iso
        .datetime({ offset: true, error: "expected an RFC 3339 time like 2026-12-07T00:00:00Z" })
        .optional(),
      /** Event keys accepted on `POST /e/:key`; empty accepts any key. */
      eventKeys: z.array(z.string().min(1, "expected a non-empty event key")).default([]),
      /** v4 checkpointing (several steps per call request). Default false (classic protocol). */
      checkpointing: z.boolean({ error: "expected true or false" }).default(false),
    })
    .refine(
      (inngest) => inngest.signingKeyFallbackUntil === undefined || inngest.signingKeyFallback,
      {
        path: ["signingKeyFallbackUntil"],
        message: "set without signingKeyFallback: the window closes on the fallback key",
      },
    )
    .prefault({}),
  auth: z
    .strictObject({
      /** Bearer token for the REST API, `/metrics` and the dashboard. Required in start mode. */
      token: z.string().min(1, "expected a non-empty token").optional(),
      /**
       * How long a scoped token's record is reused before the Store is read again, in ms: the
       * bound on how late a revocation reaches another process. Default 1,000.
       */
      tokenCacheMs: z.number().int().min(0).max(60_000).optional(),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Record event sends too (every other mutating request is always recorded). Default false. */
      events: z.boolean({ error: "expected true or false" }).default(false),
      /** Days an entry is kept. Default 90. */
      retentionDays: z.number().positive().max(3650).default(90),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z
        .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` })
        .default("info"),
    })
    .prefault({}),
  flows: z
    .strictObject({
      workerConcurrency: z.number().int().min(1).max(1024).optional(),
      leaseMs: z.number().int().min(100).optional(),
      pollIntervalMs: z.number().int().min(1).optional(),
      /**
       * The flows worker's stable identity; a restart under it takes back at once the queue
       * leases it held before a crash. Default: derived from host, port, storage and directory.
       */
      workerId: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,100}$/, {
          error: 'expected 1 to 100 letters, digits, ".", "_", ":" or "-"',
        })
        .optional(),
    })
    .prefault({}),
  /** How long finished runs and events are kept (default 7 days each); `false` keeps everything. */
  retention: retentionConfigSchema.optional(),
  /** SDK app serve URLs synced when the runtime starts, and again while they are unreachable. */
  apps: urlListSchema.default([]),
  /** Retry interval for apps that could not be synced. Default 5000 ms. */
  appSyncIntervalMs: z.number().int().min(100).default(5000),
  /**
   * Sync `apps` again every interval even once synced, so restarted apps' function changes are
   * picked up. Default: true in dev mode, false in start mode.
   */
  appResync: z.boolean({ error: "expected true or false" }).optional(),
  /** How long `stop()` waits for in-flight work before closing anyway. Default 30 000 ms. */
  shutdownTimeoutMs: z.number().int().min(0).default(30_000),
  /** Body limits, list bounds, dev-mode host and origin checks, the start-mode sync allowlist. */
  security: securityConfigSchema.prefault({}),
  /** Actor types to host (`@troupe/actors`), served under `/actors`; a `.ts`/`.mjs` config only. */
  actors: runtimeActorsSchema.optional(),
  /** The Redis-protocol server over actors (`@troupe/resp`). */
  resp: respConfigSchema,
  /** The PostgreSQL-protocol server over Troupe (`@troupe/pgwire`). */
  pgwire: pgwireConfigSchema,
  /** Per-actor stat snapshots served under `/stats/actors` (registry files watched). */
  stats: statsServiceConfigSchema.optional(),
});

/** A runtime configuration as written in a file or passed to {@link createRuntime}. */
export type RuntimeConfigInput = z.input<typeof configShape>;

/** A validated runtime configuration with every default filled in. */
export type RuntimeConfig = z.output<typeof configShape>;

/**
 * Typed identity for `troupe.config.ts`: `export default defineConfig({ storage: { url } })`.
 */
export function defineConfig(config: RuntimeConfigInput): RuntimeConfigInput {
  return config;
}

/** Where each environment variable goes in the config, and how its text is read. */
const ENV_FIELDS = {
  TROUPE_STORAGE_URL: { field: ["storage", "url"], read: "string" },
  TROUPE_PORT: { field: ["server", "port"], read: "number" },
  TROUPE_HOST: { field: ["server", "host"], read: "string" },
  TROUPE_SIGNING_KEY: { field: ["inngest", "signingKey"], read: "string" },
  TROUPE_SIGNING_KEY_FALLBACK: { field: ["inngest", "signingKeyFallback"], read: "string" },
  TROUPE_SIGNING_KEY_FALLBACK_UNTIL: {
    field: ["inngest", "signingKeyFallbackUntil"],
    read: "string",
  },
  TROUPE_EVENT_KEY: { field: ["inngest", "eventKeys"], read: "list" },
  TROUPE_AUTH_TOKEN: { field: ["auth", "token"], read: "string" },
  TROUPE_LOG_LEVEL: { field: ["log", "level"], read: "string" },
  TROUPE_APPS: { field: ["apps"], read: "list" },
  TROUPE_SHUTDOWN_TIMEOUT_MS: { field: ["shutdownTimeoutMs"], read: "number" },
  TROUPE_STORAGE_SYNCHRONOUS: { field: ["storage", "synchronous"], read: "string" },
  TROUPE_RETENTION_EVENTS: { field: ["retention", "events"], read: "string" },
  TROUPE_RETENTION_RUNS: { field: ["retention", "runs"], read: "string" },
  TROUPE_ALLOWED_HOSTS: { field: ["security", "allowedHosts"], read: "list" },
  TROUPE_ALLOWED_ORIGINS: { field: ["security", "allowedOrigins"], read: "list" },
} as const satisfies Record<
  string,
  { field: readonly string[]; read: "string" | "number" | "list" }
>;

/** The environment variables the runtime reads, in documentation order. */
export const ENV_VARIABLES: readonly string[] = Object.keys(ENV_FIELDS);

type Tree = Record<string, unknown>;

function setPath(target: Tree, field: readonly string[], value: unknown): void {
  let node = target;
  for (const part of field.slice(0, -1)) {
    const next = node[part];
    if (typeof next === "object" && next !== null && !Array.isArray(next)) node = next as Tree;
    else {
      const created: Tree = {};
      node[part] = created;
      node = created;
    }
  }
  const last = field[field.length - 1];
  if (last !== undefined) node[last] = value;
}

/** Merges `over` into `base` (objects deeply, everything else replaced). */
function mergeTrees(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      typeof current === "object" &&
      current !== null &&
      !Array.isArray(current)
    ) {
      out[key] = mergeTrees(current as Tree, value as Tree);
    } else if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * The config fragment set by `TROUPE_*` environment variables. Empty variables count as unset;
 * `TROUPE_EVENT_KEY` and `TROUPE_APPS` take comma-separated lists. A number that does not parse
 * is kept as text so validation names the field.
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): {
  readonly config: Tree;
  readonly sources: ReadonlyMap<string, string>;
} {
  const config: Tree = {};
  const sources = new Map<string, string>();
  for (const [name, { field, read }] of Object.entries(ENV_FIELDS)) {
    const text = env[name]?.trim();
    if (text === undefined || text === "") continue;
    let value: unknown = text;
    if (read === "number") value = /^-?\d+$/.test(text) ? Number(text) : text;
    if (read === "list")
      value = text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    setPath(config, field, value);
    sources.set(field.join("."), name);
  }
  return { config, sources };
}

function firstIssue(error: z.ZodError, sources: ReadonlyMap<string, string>): TroupeError {
  const first = zodIssueError(error, "", {
    unknownKey: "unknown option",
    wholeValueField: "config",
  });
  const field = String(first.details.field);
  // A field set through the environment says so, or users hunt for it in the file.
  const fromEnv = [...sources.entries()].find(
    ([key]) => field === key || field.startsWith(`${key}.`),
  )?.[1];
  if (fromEnv === undefined) return first;
  const problem = first.message.slice(`${field}: `.length);
  return invalidArgument(field, `${problem} (from ${fromEnv})`, { issues: first.details.issues });
}

/**
 * Validates a configuration and fills in defaults. A bad value throws a `TroupeError` with code
 * `INVALID_ARGUMENT` whose message starts with the field (`storage.url: …`).
 */
export function parseRuntimeConfig(
  input: unknown,
  sources: ReadonlyMap<string, string> = new Map(),
): RuntimeConfig {
  const result = configShape.safeParse(input ?? {});
  if (!result.success) throw firstIssue(result.error, sources);
  return result.data;
}

/**
 * Reads a config file: `.json` as JSON; `.ts`, `.mts`, `.js`, `.mjs` as a module whose default
 * export (or `config` export) is the config object. TypeScript files load through tsx's
 * `tsImport` when tsx is installed (or through an already registered loader, as under
 * `pnpm troupe`); Node 20 cannot import TypeScript by itself.
 */
export async function readConfigFile(file: string): Promise<unknown> {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    throw new TroupeError("NOT_FOUND", `config file ${resolved} does not exist`, {
      details: { file: resolved },
    });
  }
  const extension = path.extname(resolved);
  if (extension === ".json") {
    const { readFile } = await import("node:fs/promises");
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(resolved, "utf8"));
    } catch (error) {
      throw invalidArgument(
        "config",
        `${resolved} is not valid JSON (${(error as Error).message})`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw invalidArgument("config", `${resolved} must hold a JSON object`);
    }
    return parsed;
  }
  if (![".ts", ".mts", ".js", ".mjs"].includes(extension)) {
    throw invalidArgument("config", `${resolved}: expected a .json, .ts, .mts, .js or .mjs file`);
  }
  const loaded = await importModule(resolved, extension === ".ts" || extension === ".mts");
  let value = loaded.default ?? loaded.config;
  // A .ts file outside an ESM package loads as CommonJS: its exports arrive wrapped once more.
  if (isModuleWrapper(value)) value = value.default ?? value.config;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidArgument(
      "config",
      `${resolved} must \`export default\` a config object (defineConfig({...}))`,
    );
  }
  return value;
}

type ConfigModule = { readonly default?: unknown; readonly config?: unknown };

function isModuleWrapper(value: unknown): value is ConfigModule {
  if (typeof value !== "object" || value === null) return false;
  const keys = Object.keys(value);
  return (
    keys.length > 0 &&
    (keys.includes("default") || keys.includes("config")) &&
    keys.every((key) => ["default", "config", "__esModule", "module.exports"].includes(key))
  );
}

async function importModule(file: string, typescript: boolean): Promise<ConfigModule> {
  const url = pathToFileURL(file).href;
  if (typescript) {
    // A variable specifier: tsx is optional, present in the workspace, not a dependency.
    const tsxApi = "tsx/esm/api";
    let tsImport: ((specifier: string, parent: string) => Promise<unknown>) | undefined;
    try {
      ({ tsImport } = (await import(tsxApi)) as {
        tsImport: (specifier: string, parent: string) => Promise<unknown>;
      });
    } catch {
      tsImport = undefined;
    }
    if (tsImport) return (await tsImport(url, import.meta.url)) as ConfigModule;
  }
  try {
    return (await import(url)) as ConfigModule;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_UNKNOWN_FILE_EXTENSION") {
      throw invalidArgument(
        "config",
        `${file}: loading a TypeScript config needs tsx (npm i -D tsx); or use troupe.config.json`,
      );
    }
    throw error;
  }
}

/** A setting `troupe start` requires that a configuration lacks. */
export interface MissingSetting {
  /** The config field (`inngest.signingKey`). */
  readonly field: string;
  /** What is required and how to set it. */
  readonly message: string;
}

/**
 * Every setting start mode requires that `config` lacks (a signing key, an event key, an auth
 * token), each with how to set it, so one error can list them all. Empty when none is missing.
 */
export function missingStartSettings(config: RuntimeConfig): MissingSetting[] {
  const missing: MissingSetting[] = [];
  if (config.inngest.signingKey === undefined) {
    missing.push({
      field: "inngest.signingKey",
      message:
        "required in start mode: set TROUPE_SIGNING_KEY or inngest.signingKey in the config file (signkey-prod-<hex>)",
    });
  }
  if (config.inngest.eventKeys.length === 0) {
    missing.push({
      field: "inngest.eventKeys",
      message:
        "at least one event key is required in start mode: set TROUPE_EVENT_KEY or inngest.eventKeys in the config file",
    });
  }
  if (config.auth.token === undefined) {
    missing.push({
      field: "auth.token",
      message: "required in start mode: set TROUPE_AUTH_TOKEN or auth.token in the config file",
    });
  }
  return missing;
}

/** Where {@link loadRuntimeConfig} reads from. */
export interface LoadConfigOptions {
  /** A config file (`.json`, `.ts`, `.mjs`); none when undefined. */
  readonly file?: string | undefined;
  /** The environment (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values that win over file and environment (command-line flags). */
  readonly overrides?: RuntimeConfigInput;
}

/**
 * Builds the configuration from, lowest precedence first: defaults, the config file, `TROUPE_*`
 * environment variables, then `overrides` (command-line flags). Validates the result.
 */
export async function loadRuntimeConfig(options: LoadConfigOptions = {}): Promise<RuntimeConfig> {
  const fromFile = options.file === undefined ? {} : await readConfigFile(options.file);
  const { config: fromEnv, sources } = configFromEnv(options.env ?? process.env);
  const merged = mergeTrees(
    mergeTrees(fromFile as Tree, fromEnv),
    (options.overrides ?? {}) as Tree,
  );
  return parseRuntimeConfig(merged, sources);
}
