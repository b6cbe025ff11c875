import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { prepared, statementName } from "./connection.js";

describe("statementName", () => {
  it("names a text by the start of its sha1, the same on every call, within 63 bytes", () => {
    const text = 'SELECT key FROM "s".store_entries WHERE key = $1';
    const sha1 = createHash("sha1").update(text).digest("hex");
    expect(statementName(text)).toBe(`troupe_${sha1.slice(0, 20)}`);
    expect(statementName(text)).toBe(statementName(`${text}`));
    expect(statementName(text).length).toBeLessThanOrEqual(63);
  });

  it("gives different texts different names, also after more texts than it remembers", () => {
    const seen = new Map<string, string>();
    for (let i = 0; i < 2500; i++) {
      const text = `SELECT ${i}`;
      const name = statementName(text);
      expect(seen.has(name)).toBe(false);
      seen.set(name, text);
    }
    // Names worked out before the memory was cleared are still the same.
    expect(statementName("SELECT 7")).toBe(
      `troupe_${createHash("sha1").update("SELECT 7").digest("hex").slice(0, 20)}`,
    );
  });

  it("makes query configs with the name, text and values", () => {
    const config = prepared("SELECT $1::int")([1]);
    expect(config).toEqual({
      name: statementName("SELECT $1::int"),
      text: "SELECT $1::int",
      values: [1],
    });
  });
});
