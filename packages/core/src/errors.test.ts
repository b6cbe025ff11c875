import { describe, expect, it } from "vitest";
import { invalidArgument, leaseLost, StoreConflictError, TroupeError } from "./errors.js";

describe("TroupeError", () => {
  it("carries a stable code, details and cause", () => {
    const cause = new Error("socket closed");
    const error = new TroupeError("UNAVAILABLE", "database unreachable", {
      cause,
      details: { host: "db" },
    });
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ host: "db" });
    expect(error).toBeInstanceOf(Error);
  });

  it("is recognised across copies of the package through its marker, not instanceof", () => {
    // A structurally different object carrying the same global symbol, as a second copy would.
    const foreign = Object.assign(new Error("x"), {
      code: "STORE_CONFLICT",
      [Symbol.for("troupe.error")]: true,
    });
    expect(TroupeError.isInstance(foreign)).toBe(true);
    expect(TroupeError.isInstance(foreign, "STORE_CONFLICT")).toBe(true);
    expect(StoreConflictError.isInstance(foreign)).toBe(true);
    expect(TroupeError.isInstance(new Error("plain"))).toBe(false);
    expect(TroupeError.isInstance(null)).toBe(false);
    expect(TroupeError.isInstance(invalidArgument("a", "b"), "STORE_CONFLICT")).toBe(false);
  });

  it("names the key and both versions in a conflict", () => {
    const error = new StoreConflictError("runs/1", 3, "absent");
    expect(error.message).toContain('"runs/1"');
    expect(error.message).toContain("at version 3");
    expect(error.message).toContain("absent");
    expect([error.key, error.expected, error.actual]).toEqual(["runs/1", 3, "absent"]);
  });

  it("says which field was wrong and which lease was lost", () => {
    expect(invalidArgument("claim.limit", "expected a positive integer").message).toBe(
      "claim.limit: expected a positive integer",
    );
    const lost = leaseLost("jobs", "item-1");
    expect(lost.code).toBe("LEASE_LOST");
    expect(lost.message).toContain('"item-1"');
  });
});
