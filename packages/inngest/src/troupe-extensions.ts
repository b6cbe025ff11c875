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

/**
 * The events of a `step.waitForEvent` whose event name lists several, separated by `|`: the wait
 * ends with the first event matching any of them (the step returns it; its `name` says which),
 * and `match` / `if` apply to each. A name without `|` is an ordinary wait. Returns an error
 * message for an empty part or too many parts.
 */
export function waitEventsOf(
  name: string,
  condition: string | undefined,
):
  | { readonly event: string; readonly anyOf?: { event: string; if?: string }[] }
  | { readonly error: string } {
  if (!name.includes(WAIT_ANY_SEPARATOR)) return { event: name };
  const parts = name.split(WAIT_ANY_SEPARATOR).map((part) => part.trim());
  if (parts.some((part) => part === ""))
    return { error: `expected event names separated by "|", got ${JSON.stringify(name)}` };
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
