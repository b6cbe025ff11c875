import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { MiddlewareHandler } from "hono";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Paths that belong to APIs and SDKs: a browser navigation to one of them never falls back to
 * the dashboard's `index.html`.
 */
export const API_PATHS: readonly RegExp[] = [
  /^\/api(\/|$)/,
  /^\/v\d+(\/|$)/,
  /^\/e\//,
  /^\/fn\//,
  /^\/health$/,
  /^\/metrics$/,
  /^\/dev$/,
];

/**
 * Looks for a built dashboard (`index.html` in a `dist` folder) from `start` upwards: in the
 * Troupe repository that is `apps/dashboard/dist`, in an installation
 * `node_modules/@troupe/dashboard/dist`. Undefined when none is built.
 */
export function findDashboardDir(
  start: string = fileURLToPath(import.meta.url),
): string | undefined {
  let dir = path.dirname(start);
  for (;;) {
    for (const candidate of [
      path.join(dir, "apps", "dashboard", "dist"),
      path.join(dir, "node_modules", "@troupe", "dashboard", "dist"),
    ]) {
      if (existsSync(path.join(candidate, "index.html"))) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Options of {@link serveDashboard}. */
export interface ServeDashboardOptions {
  /** The built dashboard folder (holding `index.html`). */
  readonly dir: string;
  /** More paths that must not fall back to `index.html` (e.g. mounted route groups). */
  readonly reserved?: readonly RegExp[];
}

/**
 * Hono middleware serving the dashboard's static files, before auth: they hold no data (every
 * API call they make carries the token). A file under `dir` is served as it is; any other
 * browser navigation (`GET`, `Accept: text/html`) outside the API paths gets `index.html`, so
 * the dashboard's own routes (`/runs/…`) survive a reload. Everything else goes on to the routes.
 */
export function serveDashboard(options: ServeDashboardOptions): MiddlewareHandler {
  const root = path.resolve(options.dir);
  const reserved = [...API_PATHS, ...(options.reserved ?? [])];
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  const read = (file: string): Uint8Array<ArrayBuffer> | undefined => {
    const hit = cache.get(file);
    if (hit) return hit;
    try {
      if (!statSync(file).isFile()) return undefined;
      const bytes = new Uint8Array(readFileSync(file));
      cache.set(file, bytes);
      return bytes;
    } catch {
      return undefined;
    }
  };
  const respond = (file: string, bytes: Uint8Array<ArrayBuffer>, head: boolean) =>
    new Response(head ? null : bytes, {
      headers: {
        "content-type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream",
        // Vite puts a content hash in asset names; index.html must always be fetched again.
        "cache-control": file.includes(`${path.sep}assets${path.sep}`)
          ? "public, max-age=31536000, immutable"
          : "no-cache",
      },
    });

  return async (context, next) => {
    const method = context.req.method;
    if (method !== "GET" && method !== "HEAD") return next();
    const requested = context.req.path;
    if (reserved.some((pattern) => pattern.test(requested))) return next();
    let decoded: string;
    try {
      decoded = decodeURIComponent(requested);
    } catch {
      return next();
    }
    const file = path.resolve(root, `.${decoded === "/" ? "/index.html" : decoded}`);
    if (file.startsWith(root + path.sep)) {
      const bytes = read(file);
      if (bytes) return respond(file, bytes, method === "HEAD");
    }
    const accept = context.req.header("accept") ?? "";
    if (accept.includes("text/html")) {
      const index = path.join(root, "index.html");
      const bytes = read(index);
      if (bytes) return respond(index, bytes, method === "HEAD");
    }
    return next();
  };
}
