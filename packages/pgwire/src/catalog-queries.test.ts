import { describe, expect, it } from "vitest";
import { answerCatalogQuery, FIRST_TABLE_OID, selectListNames } from "./catalog-queries.js";

describe("catalog answers for psql", () => {
  it("names the items of a SELECT list like PostgreSQL", () => {
    expect(
      selectListNames(
        `SELECT n.nspname as "Schema", c.relname, count(*) AS n, (SELECT x FROM y, z) AS sub, 'a,b' FROM t`,
      ),
    ).toEqual(["Schema", "relname", "n", "sub", "?column?"]);
  });

  it("finds a table by psql's name pattern and describes its columns", () => {
    const lookup = answerCatalogQuery(
      "SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\nWHERE c.relname OPERATOR(pg_catalog.~) '^(events)$' COLLATE pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 2, 3;",
    );
    expect(lookup.rows).toEqual([[String(FIRST_TABLE_OID + 2), "public", "events"]]);
    const columns = answerCatalogQuery(
      `SELECT a.attname,\n  pg_catalog.format_type(a.atttypid, a.atttypmod),\n  (SELECT 1 FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid),\n  a.attnotnull,\n  (SELECT c.collname FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation) AS attcollation,\n  a.attidentity,\n  a.attgenerated\nFROM pg_catalog.pg_attribute a\nWHERE a.attrelid = '${FIRST_TABLE_OID + 2}' AND a.attnum > 0 AND NOT a.attisdropped\nORDER BY a.attnum;`,
    );
    expect(columns.rows.map((row) => row.slice(0, 2))).toEqual([
      ["id", "text"],
      ["name", "text"],
      ["data", "jsonb"],
      ["ts", "timestamp with time zone"],
    ]);
    expect(columns.rows[0]).toHaveLength(7);
  });

  it("answers other catalog queries with no rows in the shape asked for", () => {
    const answer = answerCatalogQuery(
      "SELECT pol.polname, pol.polpermissive FROM pg_catalog.pg_policy pol WHERE pol.polrelid = '1'",
    );
    expect(answer).toEqual({
      fields: [
        { name: "polname", type: "text" },
        { name: "polpermissive", type: "text" },
      ],
      rows: [],
    });
  });
});
