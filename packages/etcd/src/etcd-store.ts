import {
  type CommitResult,
  closedError,
  type Expectation,
  type KeyRange,
  type ListOptions,
  parseWith,
  resolveListRange,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  TroupeError,
  validateCommit,
  validateKey,
  validateKeys,
} from "@troupe/core";
import type { ICompare, IKeyValue, IRangeRequest, IRequestOp } from "etcd3";
import { z } from "zod";
import {
  connectionShape,
  type EtcdConnectionOptions,
  openConnection,
  runCall,
} from "./connection.js";

/** Options of {@link createEtcdStore}. */
export interface EtcdStoreOptions extends EtcdConnectionOptions {
  /**
   * Prepended to every etcd key the store uses, so deployments can share one cluster. Default
   * `"troupe/"`. Two stores with the same prefix see the same data.
   */
  readonly prefix?: string;
  /**
   * The most operations one etcd transaction may carry: the server's `--max-txn-ops` (etcd's
   * default is 128). A commit with more ops than this is refused with `INVALID_ARGUMENT`; a
   * `getMany` of more keys reads in several transactions pinned to one revision.
   */
  readonly maxTxnOps?: number;
  /** Entries per `list` round trip; all pages are read at one revision. Default 1,000. */
  readonly listPageSize?: number;
}

const optionsSchema = z.object({
  ...connectionShape,
  prefix: z.string().min(1).max(256).optional(),
  maxTxnOps: z.number().int().min(2).optional(),
  listPageSize: z.number().int().positive().optional(),
});

// Etcd's enums, as the numbers its protobuf expects (the library declares them as ambient const
// enums, which an isolated build cannot inline).
const SORT_ASCEND = 1;
const SORT_DESCEND = 2;
const TARGET_KEY = 0;
const COMPARE_EQUAL = 0;
const TARGET_VERSION = 0;
const TARGET_MOD = 2;

function revision(value: string | number | undefined, what: string): number {
  const parsed = Number(value ?? 0);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new TroupeError("INTERNAL", `etcd store: ${what} ${String(value)} is not a revision`);
  }
  return parsed;
}

/**
 * A {@link Store} on etcd v3. Each Troupe key is the etcd key `<prefix>k/<key>`; a key's version
 * is its etcd `mod_revision`, so versions are the cluster's revisions: unique, growing, and never
 * reused after a delete (ABA-safe). A commit is one etcd transaction whose compares are the
 * guards (`mod_revision == v`, or `version == 0` for "absent"); when a compare fails, the same
 * transaction's failure branch reads the guarded keys, so the conflict names its key without a
 * second round trip. Reads that span several requests are pinned to one revision.
 *
 * Durability is etcd's: a commit resolves after the cluster's quorum has written it to its WAL.
 */
export function createEtcdStore(options: EtcdStoreOptions): Store {
  const parsed = parseWith(optionsSchema, options, "createEtcdStore");
  const prefix = parsed.prefix ?? "troupe/";
  const maxTxnOps = parsed.maxTxnOps ?? 128;
  const pageSize = parsed.listPageSize ?? 1000;
  const connection = openConnection(options, "createEtcdStore");
  const { kv } = connection.client;
  const dataPrefix = Buffer.from(`${prefix}k/`, "utf8");
  const dataEnd = Buffer.from(`${prefix}k0`, "utf8"); // "0" follows "/": just past every data key
  const tick = Buffer.from(`${prefix}m/tick`, "utf8");
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError("etcd store");
  };

  const encode = (key: string) => Buffer.concat([dataPrefix, Buffer.from(key, "utf8")]);
  const decode = (key: Buffer) => key.subarray(dataPrefix.length).toString("utf8");
  const entryOf = (kvs: IKeyValue): StoreEntry => ({
    key: decode(kvs.key),
    // A copy that owns its memory, so callers can keep or change it freely.
    value: kvs.value ? new Uint8Array(kvs.value) : new Uint8Array(0),
    version: revision(kvs.mod_revision, "mod_revision"),
  });

  async function readKeys(keys: readonly string[]): Promise<(StoreEntry | undefined)[]> {
    const out: (StoreEntry | undefined)[] = [];
    let pinned: number | undefined;
    for (let at = 0; at < keys.length; at += maxTxnOps) {
      const chunk = keys.slice(at, at + maxTxnOps);
      const success: IRequestOp[] = chunk.map((key) => ({
        request_range: { key: encode(key), ...(pinned ? { revision: pinned } : {}) },
      }));
      const reply = await runCall(connection, "etcd store get", "read", () =>
        kv.txn({ compare: [], success }),
      );
      pinned ??= revision(reply.header.revision, "header revision");
      for (const response of reply.responses) {
        const found = response.response_range?.kvs?.[0];
        out.push(found ? entryOf(found) : undefined);
      }
    }
    return out;
  }

  async function readRange(range: KeyRange): Promise<StoreEntry[]> {
    const from = range.from === undefined ? dataPrefix : encode(range.from);
    let to: Buffer = range.to === undefined ? dataEnd : encode(range.to);
    let low: Buffer = from;
    const out: StoreEntry[] = [];
    let pinned: number | undefined;
    for (;;) {
      const want =
        range.limit === undefined ? pageSize : Math.min(pageSize, range.limit - out.length);
      const request: IRangeRequest = {
        key: low,
        range_end: to,
        limit: want,
        sort_order: range.reverse ? SORT_DESCEND : SORT_ASCEND,
        sort_target: TARGET_KEY,
        ...(pinned ? { revision: pinned } : {}),
      };
      const reply = await runCall(connection, "etcd store list", "read", () => kv.range(request));
      pinned ??= revision(reply.header.revision, "header revision");
      const kvs = reply.kvs ?? [];
      for (const found of kvs) out.push(entryOf(found));
      const last = kvs[kvs.length - 1];
      if (!reply.more || last === undefined) return out;
      if (range.limit !== undefined && out.length >= range.limit) return out;
      if (range.reverse) to = last.key;
      else low = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  async function writeOnce(ops: readonly StoreOp[]): Promise<CommitResult> {
    const compare: ICompare[] = [];
    const guarded: StoreOp[] = [];
    const success: IRequestOp[] = [];
    for (const op of ops) {
      const key = encode(op.key);
      if (op.expect !== undefined) {
        guarded.push(op);
        compare.push(
          op.expect === "absent"
            ? { key, target: TARGET_VERSION, result: COMPARE_EQUAL, version: 0 }
            : { key, target: TARGET_MOD, result: COMPARE_EQUAL, mod_revision: op.expect },
        );
      }
      if (op.type === "set") {
        const value = Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength);
        success.push({ request_put: { key, value } });
      } else if (op.type === "delete") {
        success.push({ request_delete_range: { key } });
      }
    }
    const writes = success.length;
    // A commit of deletes alone may change nothing in etcd, and then gets no revision of its
    // own; one write to the store's tick key gives every writing commit a fresh version.
    if (writes > 0 && !ops.some((op) => op.type === "set")) {
      success.push({ request_put: { key: tick, value: Buffer.alloc(0) } });
    }
    const failure: IRequestOp[] = guarded.map((op) => ({
      request_range: { key: encode(op.key) },
    }));
    const reply = await runCall(connection, "etcd store commit", "write", () =>
      kv.txn({ compare, success, failure }),
    );
    if (!reply.succeeded) throw conflictOf(guarded, reply.responses);
    return { version: writes === 0 ? 0 : revision(reply.header.revision, "header revision") };
  }

  function conflictOf(
    guarded: readonly StoreOp[],
    responses: readonly { response_range?: { kvs?: IKeyValue[] } }[],
  ): TroupeError {
    for (let index = 0; index < guarded.length; index++) {
      const op = guarded[index] as StoreOp & { expect: Expectation };
      const found = responses[index]?.response_range?.kvs?.[0];
      const actual: Expectation = found ? revision(found.mod_revision, "mod_revision") : "absent";
      if (actual !== op.expect) return new StoreConflictError(op.key, op.expect, actual);
    }
    // The failure branch reads in the same transaction as the compares, so some guard must
    // differ; reaching here means etcd and this adapter disagree on what a compare means.
    return new TroupeError("INTERNAL", "etcd store commit: a compare failed but every guard holds");
  }

  return {
    name: "etcd",
    async get(key) {
      ensureOpen();
      validateKey(key);
      return (await readKeys([key]))[0];
    },
    async getMany(keys) {
      ensureOpen();
      validateKeys(keys);
      if (keys.length === 0) return [];
      return readKeys(keys);
    },
    async list(listOptions: ListOptions = {}) {
      ensureOpen();
      const range = resolveListRange(listOptions);
      if (range.empty) return [];
      return readRange(range);
    },
    async commit(ops) {
      ensureOpen();
      validateCommit(ops);
      if (ops.length === 0) return { version: 0 };
      const writes = ops.filter((op) => op.type !== "check").length;
      const guards = ops.filter((op) => op.expect !== undefined).length;
      if (writes + 1 > maxTxnOps || guards > maxTxnOps) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `ops: ${ops.length} operations exceed one etcd transaction (maxTxnOps ${maxTxnOps}, the server's --max-txn-ops)`,
          { details: { field: "ops", maxTxnOps } },
        );
      }
      return writeOnce(ops);
    },
    async close() {
      if (closed) return;
      closed = true;
      connection.close();
    },
  };
}
