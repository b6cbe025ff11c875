import { parse } from "pgsql-ast-parser";
import { describe, expect, it } from "vitest";
import type { SqlValue } from "./pg-types.js";
import { evaluate, likePattern } from "./sql-eval.js";

function value(sql: string, row: Record<string, SqlValue> = {}, params: SqlValue[] = []) {
  const [statement] = parse(`SELECT ${sql}`);
  if (statement?.type !== "select" || !("columns" in statement)) throw new Error("not a select");
  const expr = statement.columns?.[0]?.expr;
  if (expr === undefined) throw new Error("no column");
  return evaluate(expr, { row, params, now: Date.UTC(2026, 0, 1), table: undefined });
}

describe("SQL expression evaluation", () => {
  it("follows three-valued logic with NULL", () => {
    expect(value("NULL = 1")).toBeNull();
    expect(value("NULL AND false")).toBe(false);
    expect(value("NULL OR true")).toBe(true);
    expect(value("NULL AND true")).toBeNull();
    expect(value("1 IN (2, NULL)")).toBeNull();
    expect(value("1 NOT IN (2, 3)")).toBe(true);
    expect(value("x IS NULL", { x: null })).toBe(true);
  });

  it("reads JSON with -> and ->>, and compares text parameters with numbers", () => {
    const row = { state: { count: 3, tags: ["a", "b"], nested: { deep: true } } };
    expect(value("state->>'count'", row)).toBe("3");
    expect(value("state->'tags'->>1", row)).toBe("b");
    expect(value("state->'nested'->'deep'", row)).toBe(true);
    expect(value("state->>'missing'", row)).toBeNull();
    expect(value("(state->>'count')::int > $1", row, ["2"])).toBe(true);
  });

  it("matches LIKE and ILIKE patterns with escapes", () => {
    expect(likePattern("a%b_c", false).test("aXXbYc")).toBe(true);
    expect(likePattern("100\\%", false).test("100%")).toBe(true);
    expect(likePattern("100\\%", false).test("1000")).toBe(false);
    expect(value("'Hello' ILIKE 'h%'")).toBe(true);
    expect(value("'a.b' LIKE 'a_b'")).toBe(true);
    expect(value("'a+b' LIKE 'a+b'")).toBe(true);
  });

  it("compares timestamps with text and casts", () => {
    const row = { created_at: new Date(Date.UTC(2026, 0, 2)) };
    expect(value("created_at > '2026-01-01'", row)).toBe(true);
    expect(value("created_at < now()", row)).toBe(false);
    expect(value("'12'::int + 1")).toBe(13);
    expect(() => value("'x'::int")).toThrow("invalid input syntax for type integer");
    expect(() => value("1 / 0")).toThrow("division by zero");
  });
});
