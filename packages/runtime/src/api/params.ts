import { invalidArgument, isUlid } from "@troupe/core";
import { z } from "zod";

/** `path.to.field` of a zod issue, prefixed with where the value came from (`query`, `body`). */
function fieldOf(issue: z.ZodError["issues"][number] | undefined, root: string): string {
  const path = (issue?.path ?? [])
    .map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`))
    .join("");
  return `${root}${path}`;
}

/**
 * Parses `value` with `schema`; a failure throws INVALID_ARGUMENT naming the field
 * (`query.limit: expected …`), which the API answers with 400.
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw invalidArgument(fieldOf(issue, root), issue?.message ?? "invalid");
}

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
