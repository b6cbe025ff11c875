import {
  type Clock,
  createIdGenerator,
  createJsonCodec,
  type Logger,
  type Store,
  type StoreOp,
  ulidTimePrefix,
} from "@troupe/core";
import { z } from "zod";

/** One audited operation. */
export interface AuditEntry {
  /** ULID: time-ordered, and the entry's Store key. */
  readonly id: string;
  /** ms since the epoch. */
  readonly at: number;
  /** Who: the token's name (`root` for `auth.token`, `signing-key`, or `anonymous` in dev). */
  readonly token: string;
  /** The scoped token's id, when one was used. */
  readonly tokenId?: string | undefined;
  /** The client's address, as the server saw it. */
  readonly source: string;
  /** What: `<METHOD> <route>`, e.g. `POST /api/runs/:id/cancel`, or a protocol's name for it. */
  readonly operation: string;
  /** On what: the path (run id, actor address, token id…). */
  readonly target: string;
  /** The HTTP status answered. */
  readonly status: number;
}

const entrySchema = z.object({
  id: z.string(),
  at: z.number(),
  token: z.string(),
  tokenId: z.string().optional(),
  source: z.string(),
  operation: z.string(),
  target: z.string(),
  status: z.number(),
});
const codec = createJsonCodec(entrySchema);

/** What `query` filters by; every filter combines. */
export interface AuditQuery {
  /** Only entries at or after this time (ms). */
  readonly from?: number | undefined;
  /** Only entries before this time (ms). */
  readonly to?: number | undefined;
  /** Only this token name. */
  readonly token?: string | undefined;
  /** Only this operation (exact) or operations starting with it when it ends in `*`. */
  readonly operation?: string | undefined;
  /** At most this many entries (newest first). Default 100, at most 1,000. */
  readonly limit?: number | undefined;
  /** Continue after the entry with this id (from the previous page's `cursor`). */
  readonly cursor?: string | undefined;
}

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Key prefix. Default `runtime/audit/`. */
  readonly prefix?: string;
  /** How long entries are kept, in ms. Default 90 days. */
  readonly retentionMs?: number;
}

/** The audit log: appended by the server, read by `/api/audit`. */
export interface AuditLog {
  /** Records one operation: one Store write. A failed write is logged, never thrown. */
  append(entry: Omit<AuditEntry, "id" | "at">): Promise<void>;
  /** Entries newest first, filtered; `cursor` is set when more may follow. */
  query(query: AuditQuery): Promise<{ data: AuditEntry[]; cursor?: string }>;
  /** Removes entries older than the retention, at most `batch` per call; returns how many. */
  sweep(batch?: number): Promise<number>;
}

/** Creates the audit log over `store`. */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { store, clock, logger } = options;
  const prefix = options.prefix ?? "runtime/audit/";
  const retentionMs = options.retentionMs ?? 90 * 24 * 3600 * 1000;
  const nextId = createIdGenerator(clock);
  let appends = 0;

  const log: AuditLog = {
    async append(fields) {
      const id = nextId();
      const entry: AuditEntry = { id, at: clock.now(), ...fields };
      try {
        await store.commit([{ type: "set", key: `${prefix}${id}`, value: codec.encode(entry) }]);
      } catch (error) {
        logger.error("audit entry could not be written", {
          operation: entry.operation,
          target: entry.target,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      // Retention rides on appends: every 1,000th append removes one bounded batch.
      if (++appends % 1000 === 0) void log.sweep().catch(() => {});
    },
    async query(query) {
      const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
      const start = query.from === undefined ? undefined : `${prefix}${ulidTimePrefix(query.from)}`;
      let end = query.to === undefined ? undefined : `${prefix}${ulidTimePrefix(query.to)}`;
      if (query.cursor !== undefined) {
        const after = `${prefix}${query.cursor}`;
        if (end === undefined || after < end) end = after;
      }
      const operation = query.operation;
      const matches = (entry: AuditEntry) =>
        (query.token === undefined || entry.token === query.token) &&
        (operation === undefined ||
          (operation.endsWith("*")
            ? entry.operation.startsWith(operation.slice(0, -1))
            : entry.operation === operation));
      const data: AuditEntry[] = [];
      // Reads newest first in pages, filtering, until the page is full or the range ends.
      let upper = end;
      for (;;) {
        const page = await store.list({
          prefix,
          ...(start === undefined ? {} : { start }),
          ...(upper === undefined ? {} : { end: upper }),
          reverse: true,
          limit: 500,
        });
        for (const raw of page) {
          const entry = codec.decode(raw.value);
          if (matches(entry)) data.push(entry);
          if (data.length === limit) return { data, cursor: entry.id };
        }
        if (page.length < 500) return { data };
        upper = (page[page.length - 1] as { key: string }).key;
      }
    },
    async sweep(batch = 500) {
      const old = await store.list({
        prefix,
        end: `${prefix}${ulidTimePrefix(clock.now() - retentionMs)}`,
        limit: batch,
      });
      if (old.length === 0) return 0;
      const ops: StoreOp[] = old.map((entry) => ({ type: "delete", key: entry.key }));
      await store.commit(ops);
      return old.length;
    },
  };
  return log;
}
