import {
  type CommitResult,
  closedError,
  type Expectation,
  type ListOptions,
  resolveListRange,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  TroupeError,
  validateCommit,
  validateKey,
} from "@troupe/core";
import { z } from "zod";
import {
  connectionShape,
  defineScript,
  openConnection,
  parseOptions,
  prefixSchema,
  type RedisConnectionOptions,
  runOperation,
} from "./connection.js";
import { COMMIT_LUA, GET_MANY_LUA, LIST_LUA } from "./store-scripts.js";

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Prepended to every key the store writes, so deployments can share one Redis. Default "troupe:". */
  readonly prefix?: string;
}

/** The Redis keys of a store: all carry the hash tag `{store}` (unless the prefix has its own). */
export interface RedisStoreKeys {
  /** Sorted set, every key at score 0: the ordered key index. */
  readonly index: string;
  /** Hash: key -> value bytes. */
  readonly values: string;
  /** Hash: key -> version. */
  readonly versions: string;
  /** String: the last version given out. */
  readonly counter: string;
}

/** The key names a store with `prefix` uses (for inspection and clean-up). */
export function redisStoreKeys(prefix = "troupe:"): RedisStoreKeys {
  const base = `${prefix}{store}:`;
  return {
    index: `${base}index`,
    values: `${base}values`,
    versions: `${base}versions`,
    counter: `${base}counter`,
  };
}

const optionsSchema = z.object({
  ...connectionShape,
  prefix: prefixSchema.optional(),
});

const EMPTY = Buffer.alloc(0);
const LEX_MIN = Buffer.from("-");
const LEX_MAX = Buffer.from("+");
const INCLUSIVE = Buffer.from("[");
const EXCLUSIVE = Buffer.from("(");

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

function bytes(value: unknown): Uint8Array {
  if (!Buffer.isBuffer(value)) return new Uint8Array(0);
  // A copy that owns its memory, so callers can keep or change it freely.
  return new Uint8Array(value);
}

function version(value: unknown): number {
  const parsed = Number(text(value));
  if (!Number.isSafeInteger(parsed) || parsed < 1) {
    throw new TroupeError("INTERNAL", `redis store: stored version ${text(value)} is not valid`);
  }
  return parsed;
}

/**
 * A {@link Store} on Redis. Values, versions and the ordered key index live in three structures
 * under one hash tag; a commit is one Lua script (checks every guard, then takes the next version
 * from a counter and applies all writes), and `get`/`getMany`/`list` are one script each, so each
 * call is one round trip and sees one instant.
 *
 * Durability is Redis's: without AOF, a restart loses everything (see the README).
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const parsed = parseOptions("createRedisStore", optionsSchema, options);
  const connection = openConnection("createRedisStore", parsed as RedisConnectionOptions);
  const keys = redisStoreKeys(parsed.prefix ?? "troupe:");
  const keyArgs = [keys.index, keys.values, keys.versions, keys.counter];
  const { client } = connection;
  const scripts = {
    commit: defineScript(client, "troupeStoreCommit", 4, COMMIT_LUA),
    getMany: defineScript(client, "troupeStoreGetMany", 4, GET_MANY_LUA),
    list: defineScript(client, "troupeStoreList", 4, LIST_LUA),
  };
  const script = (name: keyof typeof scripts, args: readonly (string | Buffer)[]) =>
    scripts[name](...keyArgs, ...args);
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError("redis store");
  };

  const getMany = async (list: readonly string[], field: string) => {
    const reply = (await runOperation(connection, "redis store get", "read", () =>
      script(
        "getMany",
        list.map((key) => Buffer.from(key, "utf8")),
      ),
    )) as unknown[];
    return list.map((key, index): StoreEntry | undefined => {
      const rawVersion = reply[2 * index];
      if (rawVersion === undefined) {
        throw new TroupeError("INTERNAL", `${field}: Redis returned too few entries`);
      }
      if (text(rawVersion) === "") return undefined;
      return { key, value: bytes(reply[2 * index + 1]), version: version(rawVersion) };
    });
  };

  return {
    name: "redis",
    async get(key) {
      ensureOpen();
      validateKey(key);
      return (await getMany([key], "get"))[0];
    },
    async getMany(list) {
      ensureOpen();
      if (!Array.isArray(list)) {
        throw new TroupeError("INVALID_ARGUMENT", "keys: expected an array of keys", {
          details: { field: "keys" },
        });
      }
      list.forEach((key, index) => {
        validateKey(key, `keys[${index}]`);
      });
      if (list.length === 0) return [];
      return getMany(list, "getMany");
    },
    async list(listOptions: ListOptions = {}) {
      ensureOpen();
      const range = resolveListRange(listOptions);
      if (range.empty) return [];
      const min =
        range.from === undefined
          ? LEX_MIN
          : Buffer.concat([INCLUSIVE, Buffer.from(range.from, "utf8")]);
      const max =
        range.to === undefined
          ? LEX_MAX
          : Buffer.concat([EXCLUSIVE, Buffer.from(range.to, "utf8")]);
      const reply = (await runOperation(connection, "redis store list", "read", () =>
        script("list", [
          min,
          max,
          range.limit === undefined ? "" : String(range.limit),
          range.reverse ? "1" : "0",
        ]),
      )) as unknown[];
      const out: StoreEntry[] = [];
      for (let at = 0; at + 2 < reply.length; at += 3) {
        out.push({
          key: text(reply[at]),
          version: version(reply[at + 1]),
          value: bytes(reply[at + 2]),
        });
      }
      return out;
    },
    async commit(ops: readonly StoreOp[]): Promise<CommitResult> {
      ensureOpen();
      validateCommit(ops);
      if (ops.length === 0) return { version: 0 };
      const args: (string | Buffer)[] = [String(ops.length)];
      for (const op of ops) {
        args.push(
          op.type,
          Buffer.from(op.key, "utf8"),
          op.expect === undefined ? "" : String(op.expect),
          op.type === "set"
            ? Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength)
            : EMPTY,
        );
      }
      const reply = await runOperation(connection, "redis store commit", "write", () =>
        script("commit", args),
      );
      if (Array.isArray(reply)) {
        const op = ops[Number(reply[0])];
        if (op === undefined || op.expect === undefined) {
          throw new TroupeError("INTERNAL", "redis store commit: malformed conflict reply");
        }
        const actualText = text(reply[1]);
        const actual: Expectation = actualText === "absent" ? "absent" : version(actualText);
        throw new StoreConflictError(op.key, op.expect, actual);
      }
      return { version: Number(reply) };
    },
    async close() {
      if (closed) return;
      closed = true;
      await connection.close();
    },
  };
}
