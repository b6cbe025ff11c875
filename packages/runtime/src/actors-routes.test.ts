import { TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { actorErrorStatus } from "./actors-routes.js";

describe("actorErrorStatus", () => {
  it("answers a call whose node died in flight with 504, like a timeout, not with 500", () => {
    expect(actorErrorStatus(new TroupeError("OUTCOME_UNKNOWN", "node b lost its lease"))).toBe(504);
    expect(actorErrorStatus(new TroupeError("TIMEOUT", "no answer"))).toBe(504);
  });

  it("keeps 400 for bad input and 500 for what it does not know", () => {
    expect(actorErrorStatus(new TroupeError("INVALID_ARGUMENT", "args: bad"))).toBe(400);
    expect(actorErrorStatus(new Error("boom"))).toBe(500);
  });
});
