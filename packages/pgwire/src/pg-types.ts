/** The column types virtual tables use, with their PostgreSQL type OIDs and sizes. */
export const PG_TYPES = {
  bool: { oid: 16, size: 1, name: "boolean" },
  int8: { oid: 20, size: 8, name: "bigint" },
  int4: { oid: 23, size: 4, name: "integer" },
  text: { oid: 25, size: -1, name: "text" },
  float8: { oid: 701, size: 8, name: "double precision" },
  timestamptz: { oid: 1184, size: 8, name: "timestamp with time zone" },
  jsonb: { oid: 3802, size: -1, name: "jsonb" },
} as const;

/** A column type name. */
export type PgTypeName = keyof typeof PG_TYPES;

/** A value inside the engine: JSON values, plus Date for timestamps. */
export type SqlValue = null | string | number | bigint | boolean | Date | SqlJson;

/** A JSON object or array (a jsonb value). */
export type SqlJson = { readonly [key: string]: unknown } | readonly unknown[];

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/** A timestamp in PostgreSQL's text output (`2026-01-01 10:00:00.123+00`). */
export function formatTimestamp(date: Date): string {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}+00`;
}

/** A value in the text format of its column type; null stays null. */
export function formatValue(value: SqlValue | undefined, type: PgTypeName): string | null {
  if (value === null || value === undefined) return null;
  if (type === "jsonb") return JSON.stringify(value);
  if (value instanceof Date) return formatTimestamp(value);
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The type a computed value reads as, when no column gives one. */
export function typeOfValue(value: SqlValue | undefined): PgTypeName {
  if (typeof value === "boolean") return "bool";
  if (typeof value === "bigint") return "int8";
  if (typeof value === "number") return Number.isInteger(value) ? "int8" : "float8";
  if (value instanceof Date) return "timestamptz";
  if (value !== null && typeof value === "object") return "jsonb";
  return "text";
}
