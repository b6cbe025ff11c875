import type { PgTypeName } from "./pg-types.js";
import { pgTypeDisplayName, USER_TABLES } from "./virtual-tables.js";

/** A result computed without the engine: its columns and text rows. */
export interface CannedResult {
  readonly fields: readonly { readonly name: string; readonly type: PgTypeName }[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** The object id each virtual table shows in the catalog. */
export const FIRST_TABLE_OID = 16_384;

function tableOid(index: number): string {
  return String(FIRST_TABLE_OID + index);
}

/** True when the text reads the system catalogs (what psql's backslash commands send). */
export function isCatalogQuery(sql: string): boolean {
  return /\bpg_catalog\s*\.|\bpg_(class|namespace|attribute|type|roles|database|settings|am|index|inherits|policy|statistic_ext|publication|description|proc|extension|collation|tablespace)\b/i.test(
    sql,
  );
}

/**
 * Splits a SELECT list at its top-level commas and names each item like PostgreSQL does (the
 * alias, else the last identifier), so a catalog query gets a result of the shape it expects.
 */
export function selectListNames(sql: string): string[] {
  const start = /\bselect\b/i.exec(sql);
  if (start === null) return [];
  let depth = 0;
  let quote: string | undefined;
  let item = "";
  const items: string[] = [];
  for (let index = start.index + 6; index < sql.length; index++) {
    const char = sql[index] as string;
    if (quote !== undefined) {
      item += char;
      if (char === quote) quote = undefined;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      item += char;
      continue;
    }
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (
      depth === 0 &&
      /^\s(from|where|order|group|limit|union)\b/i.test(sql.slice(index, index + 8))
    ) {
      break;
    }
    if (depth === 0 && char === ",") {
      items.push(item);
      item = "";
      continue;
    }
    item += char;
  }
  if (item.trim() !== "") items.push(item);
  return items.map((text) => {
    const alias = /\bas\s+("([^"]+)"|([A-Za-z_][\w]*))\s*$/i.exec(text.trim());
    if (alias) return alias[2] ?? alias[3] ?? "?column?";
    const last = /([A-Za-z_][\w]*)\s*$/.exec(text.trim());
    return last?.[1] ?? "?column?";
  });
}

const text = (names: readonly string[]) => names.map((name) => ({ name, type: "text" as const }));

/**
 * Answers the catalog queries of psql's `\dt`, `\d` and `\d <table>` from the virtual tables, and
 * any other catalog query with no rows in the shape its SELECT list asks for.
 */
export function answerCatalogQuery(sql: string): CannedResult {
  const names = selectListNames(sql);
  // \dt, \d: the relation list.
  if (/c\.relname\s+as\s+"Name"/i.test(sql) && /pg_catalog\.pg_class/i.test(sql)) {
    const kinds = /c\.relkind\s+IN\s*\(([^)]*)\)/i.exec(sql)?.[1] ?? "'r'";
    const rows = kinds.includes("'r'")
      ? USER_TABLES.map((table) => ["public", table.name, "table", "troupe"]).sort((a, b) =>
          (a[1] as string).localeCompare(b[1] as string),
        )
      : [];
    return { fields: text(names), rows: rows.map((row) => row.slice(0, names.length)) };
  }
  // \d <name>: find the relation by a regular expression on its name.
  const lookup = /c\.relname\s+OPERATOR\(pg_catalog\.~\)\s+'([^']*)'/i.exec(sql);
  if (lookup && /^\s*select\s+c\.oid/i.test(sql)) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(lookup[1] as string);
    } catch {
      return { fields: text(names), rows: [] };
    }
    const rows = USER_TABLES.flatMap((table, index) =>
      pattern.test(table.name) ? [[tableOid(index), "public", table.name]] : [],
    );
    return { fields: text(names), rows };
  }
  const oid = /\b(?:c\.oid|a\.attrelid)\s*=\s*'(\d+)'/i.exec(sql)?.[1];
  const table = oid === undefined ? undefined : USER_TABLES[Number(oid) - FIRST_TABLE_OID];
  // \d <name>: the relation's properties (psql reads them by position).
  if (table !== undefined && /c\.relchecks/i.test(sql)) {
    const values = ["0", "r", "f", "f", "f", "f", "f", "f", "f", "", "0", "", "p", "d", "heap"];
    return { fields: text(names), rows: [names.map((_, index) => values[index] ?? null)] };
  }
  // \d <name>: the columns.
  if (table !== undefined && /pg_catalog\.pg_attribute\s+a/i.test(sql) && /a\.attname/i.test(sql)) {
    const rows = table.columns.map((column) =>
      names.map((name, index) =>
        index === 0
          ? column.name
          : index === 1
            ? pgTypeDisplayName(column.type)
            : name === "attnotnull"
              ? "f"
              : name === "attidentity" || name === "attgenerated"
                ? ""
                : null,
      ),
    );
    return { fields: text(names), rows };
  }
  return { fields: text(names), rows: [] };
}
