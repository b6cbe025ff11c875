import { invalidArgument, isUlid, type ParseWithOptions } from "@troupe/core";
import { z } from "zod";

/**
 * How the API names a bad field in its 400 answers: `query.limit`, `body.events[0].name`. Pass
 * to `parseWith` of `@troupe/core`.
 */
export const API_FIELDS: ParseWithOptions = { pathStyle: "brackets" };

/** A time in a query: milliseconds since the epoch or an ISO 8601 date. */
export const timeParam = z
  .string()
  .transform((text, context) => {
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (!Number.isFinite(ms)) {
      context.addIssue({
        code: "custom",
        message: `expected milliseconds since the epoch or an ISO 8601 date, got ${JSON.stringify(text)}`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .optional();

/** A page size in a query, 1..500. */
export const limitParam = z
  .string()
  .regex(/^\d+$/, "expected an integer 1-500")
  .transform(Number)
  .pipe(z.number().int().min(1, "expected an integer 1-500").max(500, "expected an integer 1-500"))
  .optional();

/** A cursor: the id (a ULID) of the last item of the previous page. */
export const cursorParam = z
  .string()
  .refine(isUlid, "expected the nextCursor of a previous page")
  .optional();

/** A JSON body; an empty one is `{}`. */
export async function readBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidArgument(
      "body",
      `is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}
