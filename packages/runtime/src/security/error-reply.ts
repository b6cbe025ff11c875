/** Paths whose errors use the dashboard and actors shape `{ status, error: { code, message } }`. */
const STRUCTURED_PATHS = /^\/(api|actors)(\/|$)/;

/**
 * An error answered by a guard before any route runs, in the shape the path's own routes use:
 * `{ status, error: { code, message, field? } }` under `/api` and `/actors`,
 * `{ ids: [], status, error }` on the event API, `{ status, error }` elsewhere (Inngest's).
 */
export function guardErrorResponse(
  path: string,
  status: number,
  code: string,
  message: string,
  field?: string,
): Response {
  const body = STRUCTURED_PATHS.test(path)
    ? { status, error: { code, message, ...(field === undefined ? {} : { field }) } }
    : path.startsWith("/e/")
      ? { ids: [], status, error: message }
      : { status, error: message };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
