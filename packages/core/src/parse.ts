import type { z } from "zod";
import { invalidArgument, type TroupeError } from "./errors.js";

/**
 * How a field path is written: `dots` gives `body.steps.0.id`, `brackets` gives `body.steps[0].id`
 * (the form HTTP APIs answer with).
 */
export type FieldPathStyle = "dots" | "brackets";

/** Options for {@link parseWith} and {@link zodIssueError}. */
export interface ParseWithOptions {
  /** How the path inside the value is joined to `field`; `dots` unless set. */
  readonly pathStyle?: FieldPathStyle;
  /** Extra facts added to the error's `details`. */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * The problem reported for a key a strict object does not know (`unknown option`): the field
   * then names that key (`actors.colour`), not the object holding it, and further unknown keys of
   * the same object follow in the message. Unset: zod's own message, on the holding object.
   */
  readonly unknownKey?: string;
  /**
   * The field named when the value as a whole is at fault (the issue has no path), for a `field`
   * of `""` whose paths stand alone (`servers`, but `options` for a bad whole object). Default
   * `field`, or `value` when that is empty.
   */
  readonly wholeValueField?: string;
}

type Issue = z.ZodError["issues"][number];

/** The field a zod issue names, under `root` (`options.port`, `body.steps[0].id`). */
export function issueField(
  issue: Pick<Issue, "path"> | undefined,
  root: string,
  style: FieldPathStyle = "dots",
): string {
  const path = issue?.path ?? [];
  if (path.length === 0) return root || "value";
  if (style === "brackets") {
    const joined = path
      .map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`))
      .join("");
    return root ? `${root}${joined}` : joined.replace(/^\./, "");
  }
  const joined = path.map(String).join(".");
  return root ? `${root}.${joined}` : joined;
}

/**
 * Turns a zod error into the `INVALID_ARGUMENT` TroupeError every package throws for bad input:
 * the message names the first offending field (`field: problem`), `details.field` holds it and
 * `details.issues` lists every issue found.
 */
export function zodIssueError(
  error: z.ZodError,
  field: string,
  options: ParseWithOptions = {},
): TroupeError {
  const issue = error.issues[0];
  const unknownKeys =
    options.unknownKey !== undefined && issue?.code === "unrecognized_keys" ? issue.keys : [];
  const [firstKey, ...otherKeys] = unknownKeys;
  const named =
    issue === undefined || firstKey === undefined ? issue : { path: [...issue.path, firstKey] };
  const problem =
    firstKey === undefined
      ? (issue?.message ?? "invalid")
      : `${options.unknownKey}${otherKeys.length > 0 ? ` (also ${otherKeys.join(", ")})` : ""}`;
  const whole = options.wholeValueField !== undefined && (named?.path.length ?? 0) === 0;
  const where = whole
    ? (options.wholeValueField ?? field)
    : issueField(named, field, options.pathStyle);
  return invalidArgument(where, problem, {
    ...options.details,
    issues: error.issues.map((entry) => ({ path: entry.path.map(String), message: entry.message })),
  });
}

/**
 * Parses `value` with `schema` and returns the parsed data; bad input throws `INVALID_ARGUMENT`
 * naming the field under `field` (for example `parseWith(optionsSchema, options, "createSqliteStore")`
 * throws `createSqliteStore.path: expected string, received number`).
 */
export function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  field: string,
  options?: ParseWithOptions,
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw zodIssueError(result.error, field, options);
}
