import type { ActorSystem } from "@troupe/actors";
import { jsonCodec, type Store } from "@troupe/core";
import type { Flows, RunStatus } from "@troupe/flows";
import type { PgTypeName, SqlValue } from "./pg-types.js";

/** A row of a virtual table, by column name. */
export type Row = Record<string, SqlValue>;

/** A function as the `functions` table lists it. */
export interface FunctionRow {
  readonly id: string;
  readonly name?: string | undefined;
  /** `in-process` or `app`. */
  readonly source?: string | undefined;
  readonly appName?: string | undefined;
  readonly triggers?: unknown;
}

/** What the virtual tables read: the domain packages' public APIs and the Store. */
export interface TroupeData {
  /** Runs, steps, events (`@troupe/flows`); without it those tables are empty. */
  readonly flows?: Flows | undefined;
  /** The actor system (`actors`, `troupe.call_actor`). */
  readonly system?: ActorSystem | undefined;
  /** The Store holding actor states and stats snapshots. */
  readonly store?: Store | undefined;
  /** Store key prefix of actor states. Default `actors/state/`. */
  readonly actorStatePrefix?: string | undefined;
  /** Store key prefix of stats snapshots. Default `stats/snapshot/`. */
  readonly statsSnapshotPrefix?: string | undefined;
  /** The registered functions (the flows API does not list them). */
  readonly functions?: (() => readonly FunctionRow[]) | undefined;
  /** The most rows one table scan reads. Default 10,000. */
  readonly maxScanRows?: number | undefined;
}

/**
 * Equality hints from the WHERE clause (`col = v`, `col IN (…)` joined by AND): a source may use
 * them to read less; the engine still applies the full WHERE clause to what it returns.
 */
export type ScanHints = ReadonlyMap<string, readonly SqlValue[]>;

/** One column of a virtual table. */
export interface ColumnDef {
  readonly name: string;
  readonly type: PgTypeName;
}

/** A read-only table over a Troupe API. */
export interface VirtualTable {
  readonly name: string;
  /** The schema it lives in (`public`, `information_schema`, `pg_catalog`). */
  readonly schema: string;
  readonly columns: readonly ColumnDef[];
  /** What the table shows, for `\d+` and the README. */
  readonly description: string;
  scan(data: TroupeData, hints: ScanHints, signal: AbortSignal): Promise<Row[]>;
}

const col = (name: string, type: PgTypeName): ColumnDef => ({ name, type });
const date = (ms: number | undefined): Date | null => (ms === undefined ? null : new Date(ms));
const json = (value: unknown): SqlValue =>
  value === undefined ? null : (JSON.parse(JSON.stringify(value, bigintText)) as SqlValue);

function bigintText(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function single(hints: ScanHints, column: string): string | undefined {
  const values = hints.get(column);
  return values?.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
}

function strings(hints: ScanHints, column: string): string[] | undefined {
  const values = hints.get(column);
  if (values === undefined || !values.every((value) => typeof value === "string")) return undefined;
  return values as string[];
}

const RUN_STATUSES: readonly string[] = ["queued", "running", "completed", "failed", "cancelled"];

const runs: VirtualTable = {
  name: "runs",
  schema: "public",
  description: "function runs (flows.listRuns and flows.getRun)",
  columns: [
    col("id", "text"),
    col("function_id", "text"),
    col("status", "text"),
    col("created_at", "timestamptz"),
    col("started_at", "timestamptz"),
    col("ended_at", "timestamptz"),
    col("output", "jsonb"),
    col("error", "jsonb"),
    col("event_ids", "jsonb"),
  ],
  async scan(data, hints) {
    const flows = data.flows;
    if (flows === undefined) return [];
    const ids = strings(hints, "id");
    const views = ids
      ? (await Promise.all(ids.map((id) => flows.getRun(id)))).filter((run) => run !== undefined)
      : undefined;
    if (views !== undefined) return views.map(runRow);
    const status = strings(hints, "status")?.filter((value) => RUN_STATUSES.includes(value));
    const functionId = single(hints, "function_id");
    const summaries = await flows.listRuns({
      limit: data.maxScanRows ?? 10_000,
      newestFirst: true,
      ...(functionId === undefined ? {} : { functionId }),
      ...(status === undefined ? {} : { status: status as RunStatus[] }),
    });
    const details = await Promise.all(summaries.map((summary) => flows.getRun(summary.id)));
    return details.filter((run) => run !== undefined).map(runRow);
  },
};

function runRow(run: NonNullable<Awaited<ReturnType<Flows["getRun"]>>>): Row {
  return {
    id: run.id,
    function_id: run.functionId,
    status: run.status,
    created_at: date(run.createdAt),
    started_at: date(run.startedAt),
    ended_at: date(run.endedAt),
    output: json(run.output),
    error: json(run.error),
    event_ids: run.events.map((event) => event.id),
  };
}

const steps: VirtualTable = {
  name: "steps",
  schema: "public",
  description: "the steps of runs (flows.getRun); without run_id, the newest 100 runs",
  columns: [
    col("run_id", "text"),
    col("id", "text"),
    col("op", "text"),
    col("status", "text"),
    col("attempts", "int4"),
    col("started_at", "timestamptz"),
    col("ended_at", "timestamptz"),
    col("output", "jsonb"),
    col("error", "jsonb"),
  ],
  async scan(data, hints) {
    const flows = data.flows;
    if (flows === undefined) return [];
    const runIds =
      strings(hints, "run_id") ??
      (await flows.listRuns({ limit: 100, newestFirst: true })).map((run) => run.id);
    const rows: Row[] = [];
    for (const run of await Promise.all(runIds.map((id) => flows.getRun(id)))) {
      if (run === undefined) continue;
      for (const step of run.steps) {
        rows.push({
          run_id: run.id,
          id: step.id,
          op: step.op,
          status: step.status,
          attempts: step.attempts,
          started_at: date(step.startedAt),
          ended_at: date(step.endedAt),
          output: json(step.output),
          error: json(step.error),
        });
      }
    }
    return rows;
  },
};

const events: VirtualTable = {
  name: "events",
  schema: "public",
  description: "received events (flows.listEvents); INSERT INTO events sends one",
  columns: [col("id", "text"), col("name", "text"), col("data", "jsonb"), col("ts", "timestamptz")],
  async scan(data, hints) {
    const flows = data.flows;
    if (flows === undefined) return [];
    const ids = strings(hints, "id");
    const name = single(hints, "name");
    const found = ids
      ? (await Promise.all(ids.map((id) => flows.getEvent(id)))).filter((event) => !!event)
      : await flows.listEvents({
          limit: data.maxScanRows ?? 10_000,
          newestFirst: true,
          ...(name === undefined ? {} : { name }),
        });
    return found.map((event) => ({
      id: event.id,
      name: event.name,
      data: json(event.data),
      ts: date(event.ts),
    }));
  },
};

const functions: VirtualTable = {
  name: "functions",
  schema: "public",
  description: "registered functions (in-process and synced apps)",
  columns: [
    col("id", "text"),
    col("name", "text"),
    col("source", "text"),
    col("app_name", "text"),
    col("triggers", "jsonb"),
  ],
  async scan(data) {
    return (data.functions?.() ?? []).map((fn) => ({
      id: fn.id,
      name: fn.name ?? fn.id,
      source: fn.source ?? null,
      app_name: fn.appName ?? null,
      triggers: json(fn.triggers ?? []),
    }));
  },
};

const actors: VirtualTable = {
  name: "actors",
  schema: "public",
  description: "actors with a saved state, and those active on this node (state as jsonb)",
  columns: [
    col("type", "text"),
    col("key", "text"),
    col("node", "text"),
    col("active", "bool"),
    col("state", "jsonb"),
  ],
  async scan(data, hints) {
    const { system, store } = data;
    const type = single(hints, "type");
    const keys = strings(hints, "key");
    if (system !== undefined && type !== undefined && keys !== undefined) {
      // A point lookup: read each actor without activating it.
      const views = await Promise.all(
        keys.map((key) => system.inspectState(type, key).catch(() => undefined)),
      );
      return views
        .filter((view) => view !== undefined && (view.stored || view.active))
        .map((view) => actorRow(system, view as NonNullable<typeof view>));
    }
    const prefix = data.actorStatePrefix ?? "actors/state/";
    const rows = new Map<string, Row>();
    if (store !== undefined) {
      const listPrefix = type === undefined ? prefix : `${prefix}${type}/`;
      for (const entry of await store.list({
        prefix: listPrefix,
        limit: data.maxScanRows ?? 10_000,
      })) {
        const rest = entry.key.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (slash < 0) continue;
        let state: unknown;
        try {
          state = jsonCodec.decode(entry.value);
        } catch {
          state = undefined;
        }
        rows.set(rest, {
          type: rest.slice(0, slash),
          key: rest.slice(slash + 1),
          node: null,
          active: false,
          state: json(state),
        });
      }
    }
    for (const activation of system?.listActivations() ?? []) {
      if (type !== undefined && activation.type !== type) continue;
      const id = `${activation.type}/${activation.key}`;
      const view = await system
        ?.inspectState(activation.type, activation.key)
        .catch(() => undefined);
      rows.set(id, {
        type: activation.type,
        key: activation.key,
        node: activation.nodeId,
        active: true,
        state: json(view?.live ?? view?.state ?? rows.get(id)?.state ?? null),
      });
    }
    return [...rows.values()];
  },
};

function actorRow(
  system: ActorSystem,
  view: Awaited<ReturnType<ActorSystem["inspectState"]>>,
): Row {
  return {
    type: view.type,
    key: view.key,
    node: view.active ? system.nodeId : null,
    active: view.active,
    state: json(view.live ?? view.state),
  };
}

const statsSnapshots: VirtualTable = {
  name: "stats_snapshots",
  schema: "public",
  description: "stat snapshots kept in a Store cache tier (stats/snapshot/<actor id>)",
  columns: [
    col("actor_id", "text"),
    col("version", "int8"),
    col("format", "int4"),
    col("fingerprint", "text"),
    col("snapshot", "jsonb"),
  ],
  async scan(data, hints) {
    const store = data.store;
    if (store === undefined) return [];
    const prefix = data.statsSnapshotPrefix ?? "stats/snapshot/";
    const ids = strings(hints, "actor_id");
    const entries = ids
      ? (await store.getMany(ids.map((id) => `${prefix}${id}`))).filter((entry) => !!entry)
      : await store.list({ prefix, limit: data.maxScanRows ?? 10_000 });
    const rows: Row[] = [];
    for (const entry of entries) {
      let record: { format?: unknown; fingerprint?: unknown; snapshot?: { version?: unknown } };
      try {
        record = JSON.parse(Buffer.from(entry.value).toString("utf8"));
      } catch {
        continue;
      }
      rows.push({
        actor_id: entry.key.slice(prefix.length),
        version: typeof record.snapshot?.version === "number" ? record.snapshot.version : null,
        format: typeof record.format === "number" ? record.format : null,
        fingerprint: typeof record.fingerprint === "string" ? record.fingerprint : null,
        snapshot: json(record.snapshot),
      });
    }
    return rows;
  },
};

/** The tables users query, in `public`. */
export const USER_TABLES: readonly VirtualTable[] = [
  runs,
  steps,
  events,
  functions,
  actors,
  statsSnapshots,
];

const informationTables: VirtualTable = {
  name: "tables",
  schema: "information_schema",
  description: "the virtual tables",
  columns: [
    col("table_catalog", "text"),
    col("table_schema", "text"),
    col("table_name", "text"),
    col("table_type", "text"),
  ],
  async scan() {
    return USER_TABLES.map((table) => ({
      table_catalog: "troupe",
      table_schema: table.schema,
      table_name: table.name,
      table_type: "BASE TABLE",
    }));
  },
};

const informationColumns: VirtualTable = {
  name: "columns",
  schema: "information_schema",
  description: "the virtual tables' columns",
  columns: [
    col("table_catalog", "text"),
    col("table_schema", "text"),
    col("table_name", "text"),
    col("column_name", "text"),
    col("ordinal_position", "int4"),
    col("data_type", "text"),
    col("is_nullable", "text"),
  ],
  async scan() {
    return USER_TABLES.flatMap((table) =>
      table.columns.map((column, index) => ({
        table_catalog: "troupe",
        table_schema: table.schema,
        table_name: table.name,
        column_name: column.name,
        ordinal_position: index + 1,
        data_type: column.type === "jsonb" ? "jsonb" : typeName(column.type),
        is_nullable: "YES",
      })),
    );
  },
};

const pgTables: VirtualTable = {
  name: "pg_tables",
  schema: "pg_catalog",
  description: "the virtual tables, as pg_tables",
  columns: [col("schemaname", "text"), col("tablename", "text"), col("tableowner", "text")],
  async scan() {
    return USER_TABLES.map((table) => ({
      schemaname: table.schema,
      tablename: table.name,
      tableowner: "troupe",
    }));
  },
};

function typeName(type: PgTypeName): string {
  return {
    bool: "boolean",
    int8: "bigint",
    int4: "integer",
    text: "text",
    float8: "double precision",
    timestamptz: "timestamp with time zone",
    jsonb: "jsonb",
  }[type];
}

/** Every table the engine resolves, user tables first. */
export const ALL_TABLES: readonly VirtualTable[] = [
  ...USER_TABLES,
  informationTables,
  informationColumns,
  pgTables,
];

/** Finds a table by name and optional schema (`public` tables also answer without one). */
export function findTable(name: string, schema: string | undefined): VirtualTable | undefined {
  const lower = name.toLowerCase();
  return ALL_TABLES.find(
    (table) =>
      table.name === lower &&
      (schema === undefined
        ? table.schema === "public" || table.schema === "pg_catalog"
        : table.schema === schema.toLowerCase() ||
          (schema.toLowerCase() === "troupe" && table.schema === "public")),
  );
}

/** The PostgreSQL name of a column type (`format_type`). */
export { typeName as pgTypeDisplayName };
