import type { SubsystemOutput } from "@troupe/stats";
import { describe, expect, it } from "vitest";
import { applyOutputChanges, parseOutputBody } from "./actor-outputs.js";

const output = (system: string, value: number): SubsystemOutput => ({
  primary: [{ dimension: "strength", bucket: "FLAT", value, system }],
  derived: [],
  caps: [],
  meta: { system },
});

describe("applyOutputChanges", () => {
  it("applies puts and deletes in order without touching the input", () => {
    const before = { gear: output("gear", 1) };
    const after = applyOutputChanges(before, [
      { type: "put", system: "buffs", output: output("buffs", 2) },
      { type: "delete", system: "gear" },
      { type: "put", system: "buffs", output: output("buffs", 3) },
    ]);
    expect(after).toEqual({ buffs: output("buffs", 3) });
    expect(before).toEqual({ gear: output("gear", 1) });
  });
});

describe("parseOutputBody", () => {
  it("fills in the system from the path and empty lists", () => {
    expect(
      parseOutputBody(
        { primary: [{ dimension: "strength", bucket: "FLAT", value: 1 }] },
        "gear",
        "body",
      ),
    ).toEqual(output("gear", 1));
  });

  it("names the field of a bad entry and an unknown key", () => {
    expect(() =>
      parseOutputBody({ caps: [{ dimension: "hp", mode: "NOPE" }] }, "gear", "body"),
    ).toThrow(/^body\.caps\[0\]\./);
    expect(() => parseOutputBody({ primary: [], colour: 1 }, "gear", "body")).toThrow(
      /^body\.colour: unknown field/,
    );
  });
});
