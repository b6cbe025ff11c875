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
