import { describe, expect, it } from "vitest";
import { withoutSqliteExperimentalWarning } from "./node-sqlite-driver.js";

describe("withoutSqliteExperimentalWarning", () => {
  it("drops SQLite's ExperimentalWarning in every form emitWarning takes, and nothing else", () => {
    const passed: unknown[][] = [];
    const emit = withoutSqliteExperimentalWarning((...args) => {
      passed.push(args);
    });
    const experimental = Object.assign(new Error("SQLite is an experimental feature"), {
      name: "ExperimentalWarning",
    });
    emit("SQLite is an experimental feature and might change at any time", "ExperimentalWarning");
    emit("SQLite is an experimental feature", { type: "ExperimentalWarning" });
    emit(experimental);
    emit("WASI is an experimental feature", "ExperimentalWarning");
    emit("SQLite went away", "DeprecationWarning");
    emit("plain warning");
    expect(passed).toEqual([
      ["WASI is an experimental feature", "ExperimentalWarning"],
      ["SQLite went away", "DeprecationWarning"],
      ["plain warning"],
    ]);
  });
});
