import { describe, expect, it } from "vitest";
import { z } from "zod";
import { TroupeError } from "./errors.js";
import { issueField, parseWith, zodIssueError } from "./parse.js";

const schema = z.object({ port: z.number().int(), steps: z.array(z.object({ id: z.string() })) });

describe("parseWith", () => {
  it("returns the parsed value when it is valid", () => {
    expect(parseWith(schema, { port: 1, steps: [{ id: "a" }] }, "options")).toEqual({
      port: 1,
      steps: [{ id: "a" }],
    });
  });

  it("throws INVALID_ARGUMENT naming the field under its root, with every issue in details", () => {
    let caught: unknown;
    try {
      parseWith(schema, { port: "x", steps: [{ id: 3 }] }, "createThing");
    } catch (error) {
      caught = error;
    }
    expect(TroupeError.isInstance(caught, "INVALID_ARGUMENT")).toBe(true);
    const error = caught as TroupeError;
    expect(error.message).toMatch(/^createThing\.port: /);
    expect(error.details.field).toBe("createThing.port");
    expect(error.details.issues).toEqual([
      { path: ["port"], message: expect.any(String) },
      { path: ["steps", "0", "id"], message: expect.any(String) },
    ]);
  });

  it("writes array indexes in brackets when asked, and names the root for a bad whole value", () => {
    expect(() =>
      parseWith(schema, { port: 1, steps: [{}] }, "body", { pathStyle: "brackets" }),
    ).toThrow(/^body\.steps\[0\]\.id: /);
    expect(() => parseWith(z.string(), 1, "name")).toThrow(/^name: /);
  });

  it("keeps extra details and names the path alone when the root is empty", () => {
    const result = schema.safeParse({ port: 1, steps: [{}] });
    if (result.success) throw new Error("expected a failure");
    expect(zodIssueError(result.error, "", { details: { system: "s" } }).details).toMatchObject({
      field: "steps.0.id",
      system: "s",
    });
    expect(issueField(result.error.issues[0], "", "brackets")).toBe("steps[0].id");
    expect(issueField(undefined, "")).toBe("value");
  });
});

describe("unknown keys", () => {
  const strict = z.strictObject({ inner: z.strictObject({ port: z.number() }) });

  it("names the unknown key itself with the given problem, and lists the others", () => {
    expect(() =>
      parseWith(strict, { inner: { port: 1, colour: 1, size: 2 } }, "options", {
        unknownKey: "unknown option",
      }),
    ).toThrow(/^options\.inner\.colour: unknown option \(also size\)$/);
    expect(() =>
      parseWith(strict, { inner: { port: 1 }, x: 1 }, "", { unknownKey: "unknown field" }),
    ).toThrow(/^x: unknown field$/);
  });

  it("keeps zod's message on the holding object when no problem is given", () => {
    expect(() => parseWith(strict, { inner: { port: 1, colour: 1 } }, "options")).toThrow(
      /^options\.inner: /,
    );
  });
});

describe("wholeValueField", () => {
  it("names the whole value by its own name while paths stand alone", () => {
    const options = z.strictObject({ servers: z.string() });
    expect(() => parseWith(options, { servers: 1 }, "", { wholeValueField: "options" })).toThrow(
      /^servers: /,
    );
    expect(() => parseWith(options, 1, "", { wholeValueField: "options" })).toThrow(/^options: /);
  });
});
