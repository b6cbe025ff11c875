/**
 * Troupe features reachable from apps built with the official SDK, through fields the SDK
 * passes to the server untouched. Each is opt-in: an app that does not use them sees Inngest's
 * behaviour.
 */

/**
 * The key in `step.invoke`'s `data` that carries Troupe's invoke options; it is removed before
 * the child sees its event. `{ cascadeCancel: false }` leaves the child running when the parent
 * is cancelled (by default, cancelling a run cancels the runs it invoked).
 */
export const INVOKE_OPTIONS_KEY = "_troupe";

/** Splits Troupe's invoke options off an invoke payload's `data`. */
export function invokeOptionsOf(data: unknown): {
  readonly data: unknown;
  readonly cascadeCancel?: false;
} {
  if (typeof data !== "object" || data === null || !(INVOKE_OPTIONS_KEY in data)) return { data };
  const { [INVOKE_OPTIONS_KEY]: extension, ...rest } = data as Record<string, unknown>;
  const cascadeCancel =
    typeof extension === "object" &&
    extension !== null &&
    (extension as { cascadeCancel?: unknown }).cascadeCancel === false;
  return cascadeCancel ? { data: rest, cascadeCancel: false } : { data: rest };
}

/** The separator of a wait for any of several events: `event: "order/paid|order/cancelled"`. */
export const WAIT_ANY_SEPARATOR = "|";

/** Most events one wait takes. */
const MAX_WAIT_EVENTS = 16;

/** The suffix of a prefix-wildcard wait: `event: "order/*"`. */
export const WAIT_WILDCARD = "*";

const QUOTED = String.raw`'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"`;
/** `async.name == 'x'` or `'x' == async.name`. */
const NAME_EQUALS = new RegExp(
  String.raw`async\.name\s*==\s*(?:${QUOTED})|(?:${QUOTED})\s*==\s*async\.name`,
  "g",
);
/** `async.name in [...]`: the list's string literals. */
const NAME_IN = /async\.name\s+in\s*\[([^\]]*)\]/g;
const LITERAL = new RegExp(QUOTED, "g");
const unescapeLiteral = (text: string) => text.replace(/\\(.)/g, "$1");

/**
 * The event names a wait's `if` expression compares the awaited event's name with:
 * `async.name == '<name>'` (either side) and `async.name in ['<name>', ...]`, in order, once each.
 */
export function awaitedNamesOf(condition: string): string[] {
  const names: string[] = [];
  const add = (raw: string | undefined) => {
    const name = raw === undefined ? undefined : unescapeLiteral(raw);
    if (name !== undefined && !names.includes(name)) names.push(name);
  };
  const found: { at: number; names: (string | undefined)[] }[] = [];
  for (const match of condition.matchAll(NAME_EQUALS)) {
    found.push({ at: match.index, names: [match[1] ?? match[2] ?? match[3] ?? match[4]] });
  }
  for (const match of condition.matchAll(NAME_IN)) {
    const list = [...(match[1] ?? "").matchAll(LITERAL)].map((item) => item[1] ?? item[2]);
    found.push({ at: match.index, names: list });
  }
  for (const { names: listed } of found.sort((a, b) => a.at - b.at)) listed.forEach(add);
  return names;
}

/**
 * The events of a `step.waitForEvent` for any of several events. Two forms end the wait with
 * the first event matching any of the names (the step returns it; its `name` says which), `if`
 * applying to each:
 * - names separated by `|`: `event: "order/paid|order/cancelled"`;
 * - a prefix wildcard whose `if` names the events: `event: "order/*"` with
 *   `if: "async.name == 'order/paid' || async.name == 'order/cancelled'"` (or
 *   `async.name in [...]`). The wait is filed under those names, each of which must start with
 *   the prefix; an event of another name does not end it. This form passes the v4 SDK's check
 *   that a waited-for event's name matches the `event` asked for, which the `|` form fails.
 * A name without either is an ordinary wait. Returns an error message for an empty part, too
 * many parts, or a wildcard whose `if` names no events under its prefix.
 */
export function waitEventsOf(
  name: string,
  condition: string | undefined,
):
  | { readonly event: string; readonly anyOf?: { event: string; if?: string }[] }
  | { readonly error: string } {
  let parts: string[];
  if (name.endsWith(WAIT_WILDCARD)) {
    const prefix = name.slice(0, -WAIT_WILDCARD.length);
    if (prefix.includes(WAIT_WILDCARD) || prefix.includes(WAIT_ANY_SEPARATOR))
      return {
        error: `a wildcard wait is one prefix followed by "*", got ${JSON.stringify(name)}`,
      };
    parts = condition === undefined ? [] : awaitedNamesOf(condition);
    if (parts.length === 0)
      return {
        error: `a wildcard wait (${JSON.stringify(name)}) needs the awaited event names in "if": async.name == '<name>' or async.name in ['<name>', ...]`,
      };
    const outside = parts.find((part) => !part.startsWith(prefix) || part === "");
    if (outside !== undefined)
      return {
        error: `${JSON.stringify(outside)} in "if" does not start with the wait's prefix ${JSON.stringify(prefix)}`,
      };
  } else {
    if (!name.includes(WAIT_ANY_SEPARATOR)) return { event: name };
    parts = name.split(WAIT_ANY_SEPARATOR).map((part) => part.trim());
    if (parts.some((part) => part === ""))
      return { error: `expected event names separated by "|", got ${JSON.stringify(name)}` };
  }
  if (parts.length > MAX_WAIT_EVENTS)
    return { error: `a wait takes at most ${MAX_WAIT_EVENTS} events, got ${parts.length}` };
  const [first = "", ...rest] = [...new Set(parts)];
  return {
    event: first,
    ...(rest.length === 0
      ? {}
      : {
          anyOf: rest.map((event) =>
            condition === undefined ? { event } : { event, if: condition },
          ),
        }),
  };
}
