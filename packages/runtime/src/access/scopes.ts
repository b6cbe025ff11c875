/**
 * What a token may do. `admin` holds every scope. `stats:write` and `metrics:read` extend the
 * list the dashboard shows: pushing stat outputs and scraping `/metrics` are jobs for their own
 * least-privilege keys.
 */
export const SCOPES = [
  "events:send",
  "runs:read",
  "runs:write",
  "actors:call",
  "actors:read",
  "stats:read",
  "stats:write",
  "metrics:read",
  "admin",
] as const;

/** One scope. */
export type Scope = (typeof SCOPES)[number];

const KNOWN = new Set<string>(SCOPES);

/** True when `value` names a scope. */
export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && KNOWN.has(value);
}

/** True when a holder of `held` may do what `needed` guards (`admin` holds every scope). */
export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.includes("admin") || held.includes(needed);
}
