/**
 * Whether `POST /api/apps/sync` may contact `url` in start mode: only the serve URLs the
 * operator configured (`apps`) or those under an allowlisted prefix (`security.appSyncAllowlist`,
 * e.g. `https://apps.internal.example.com/`). Compared as parsed URLs (scheme, host, port, then
 * path prefix), so `https://a.example.com.evil.test/` does not pass for `https://a.example.com`.
 */
export function isSyncAllowed(
  url: string,
  configured: readonly string[],
  allowlist: readonly string[],
): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  if (target.username !== "" || target.password !== "") return false;
  const matches = (entry: string, prefix: boolean) => {
    let allowed: URL;
    try {
      allowed = new URL(entry);
    } catch {
      return false;
    }
    if (allowed.origin !== target.origin) return false;
    if (!prefix) return allowed.pathname === target.pathname && allowed.search === target.search;
    const base = allowed.pathname.endsWith("/") ? allowed.pathname : `${allowed.pathname}/`;
    return target.pathname === allowed.pathname || target.pathname.startsWith(base);
  };
  return (
    configured.some((entry) => matches(entry, false)) ||
    allowlist.some((entry) => matches(entry, true))
  );
}
