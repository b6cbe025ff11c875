import { TroupeError } from "@troupe/core";
import type { SqliteDatabase } from "./driver.js";

/**
 * The schema, as an append-only list of migrations: migration `i` brings a file from version `i`
 * to `i + 1`. Never edit a released entry; add a new one.
 */
const MIGRATIONS: readonly string[] = [
  `
  -- Store: keys are UTF-8 bytes, so ORDER BY key is compareKeys order (memcmp on BLOBs).
  CREATE TABLE troupe_store (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    version INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- The store-wide version counter lives in the row under the empty key (no Store key is empty,
  -- and list() starts at X'00'), read and incremented inside each write transaction so that every
  -- connection and process on the file shares one increasing version sequence. Keeping it in
  -- the same B-tree as the data means a small commit often dirties one page instead of two.
  INSERT INTO troupe_store (key, value, version) VALUES (X'', X'', 0);

  -- Queue items of every queue. seq (the rowid) is the enqueue order: SQLite gives a new row a
  -- rowid above every existing one, so it orders items that are in the queue together.
  CREATE TABLE troupe_queue (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    lease_id TEXT,
    lease_expires_at INTEGER,
    partition_key TEXT
  );
  CREATE UNIQUE INDEX troupe_queue_id ON troupe_queue (queue, id);
  -- Waiting items in claim order: a claim reads the first due rows of this index.
  CREATE INDEX troupe_queue_ready ON troupe_queue (queue, priority DESC, available_at, seq)
    WHERE lease_id IS NULL;
  -- Waiting items of a partition in claim order (only items that have a partition pay for it).
  CREATE INDEX troupe_queue_partition ON troupe_queue
    (queue, partition_key, priority DESC, available_at, seq)
    WHERE lease_id IS NULL AND partition_key IS NOT NULL;
  -- Leased items by expiry: finds lapsed leases and the next expiry without a scan.
  CREATE INDEX troupe_queue_leased ON troupe_queue (queue, lease_expires_at)
    WHERE lease_id IS NOT NULL;

  -- PubSub messages, polled by subscribers from their last seen seq. AUTOINCREMENT: a seq is
  -- never reused, even after the newest rows were pruned, so a poller can never skip one.
  CREATE TABLE troupe_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX troupe_messages_created ON troupe_messages (created_at);
  `,
];

/** The schema version this package writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

const migrated = new WeakSet<SqliteDatabase>();

/**
 * Creates or upgrades the Troupe tables, in one IMMEDIATE transaction so that several processes
 * opening a new file at once migrate it exactly once. Idempotent and cheap when up to date.
 */
export function migrateSchema(database: SqliteDatabase): void {
  if (migrated.has(database)) return;
  database
    .transaction(() => {
      database.exec("CREATE TABLE IF NOT EXISTS troupe_schema_version (version INTEGER NOT NULL)");
      const row = database.prepare("SELECT version FROM troupe_schema_version").get() as
        | { version: number }
        | undefined;
      const current = row?.version ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new TroupeError(
          "INTERNAL",
          `the SQLite file has Troupe schema version ${current}, newer than this @troupe/sqlite understands (${SCHEMA_VERSION}); upgrade @troupe/sqlite`,
          { details: { fileVersion: current, supportedVersion: SCHEMA_VERSION } },
        );
      }
      for (let version = current; version < SCHEMA_VERSION; version++) {
        database.exec(MIGRATIONS[version] as string);
      }
      if (row === undefined) {
        database
          .prepare("INSERT INTO troupe_schema_version (version) VALUES (?)")
          .run(SCHEMA_VERSION);
      } else if (current !== SCHEMA_VERSION) {
        database.prepare("UPDATE troupe_schema_version SET version = ?").run(SCHEMA_VERSION);
      }
    })
    .immediate();
  migrated.add(database);
}
