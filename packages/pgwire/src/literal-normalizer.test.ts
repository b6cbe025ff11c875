import { describe, expect, it } from "vitest";
import { normalizeLiterals } from "./literal-normalizer.js";

describe("lifting WHERE literals into parameters", () => {
  it("lifts strings and numbers of the WHERE clause, keeping JSON field names", () => {
    expect(
      normalizeLiterals(
        "SELECT state, 'x' FROM actors WHERE type = 'Counter' AND key = 'c' || 42 AND state->>'count' > 3 ORDER BY 1 LIMIT 5",
      ),
    ).toEqual({
      text: "SELECT state, 'x' FROM actors WHERE type = $1 AND key = $2 || $3 AND state->>'count' > $4 ORDER BY 1 LIMIT 5",
      values: ["Counter", "c", 42, 3],
    });
    expect(normalizeLiterals("SELECT 1 FROM t WHERE name = 'it''s' AND x IN (1, 2.5)")).toEqual({
      text: "SELECT 1 FROM t WHERE name = $1 AND x IN ($2, $3)",
      values: ["it's", 1, 2.5],
    });
  });

  it("leaves queries it cannot safely rewrite alone", () => {
    expect(normalizeLiterals("SELECT 1")).toBeUndefined();
    expect(normalizeLiterals("SELECT * FROM t WHERE a = $1")).toBeUndefined();
    expect(normalizeLiterals("SELECT * FROM t WHERE a = 1; SELECT 2")).toBeUndefined();
    expect(normalizeLiterals("SELECT * FROM t WHERE a = 'x' -- comment")).toBeUndefined();
    expect(normalizeLiterals("SELECT * FROM t WHERE a = 'open")).toBeUndefined();
    expect(normalizeLiterals("SELECT * FROM t WHERE col1 = x2")).toBeUndefined();
  });
});
