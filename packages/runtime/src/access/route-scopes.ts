import type { Scope } from "./scopes.js";

/** What a route needs: a scope, or `any` for routes every accepted token may call. */
export type RequiredScope = Scope | "any";

/** One rule: requests whose method and path match need `scope`. */
interface Rule {
  readonly methods: readonly string[] | "*";
  readonly path: RegExp;
  readonly scope: RequiredScope;
}

const READ = ["GET", "HEAD"];
const WRITE = ["POST", "PUT", "PATCH", "DELETE"];

// First match wins; a path no rule names needs `admin`, so a route added later is closed until
// it is given a scope here.
const RULES: readonly Rule[] = [
  // Who am I and what may I do: the dashboard asks to hide what the token may not do.
  { methods: READ, path: /^\/api\/whoami$/, scope: "any" },
  { methods: "*", path: /^\/api\/(tokens|audit)(\/|$)/, scope: "admin" },
  // Any accepted token may enter; each MCP tool checks its own scope.
  { methods: "*", path: /^\/mcp$/, scope: "any" },
  { methods: ["POST"], path: /^\/api\/apps\/sync$/, scope: "admin" },
  { methods: READ, path: /^\/api\/(info|apps|functions|runs|events)(\/|$)/, scope: "runs:read" },
  { methods: ["POST"], path: /^\/api\/events$/, scope: "events:send" },
  {
    methods: WRITE,
    path: /^\/api\/(runs|events|functions|cancellations|replays)(\/|$)/,
    scope: "runs:write",
  },
  { methods: READ, path: /^\/api\/actors(\/|$)/, scope: "actors:read" },
  { methods: READ, path: /^\/api\/stats(\/|$)/, scope: "stats:read" },
  { methods: ["POST"], path: /^\/api\/stats\/(resolve|explain)$/, scope: "stats:read" },
  { methods: READ, path: /^\/stats(\/|$)/, scope: "stats:read" },
  { methods: WRITE, path: /^\/stats(\/|$)/, scope: "stats:write" },
  { methods: READ, path: /^\/actors(\/|$)/, scope: "actors:read" },
  { methods: ["POST"], path: /^\/actors(\/|$)/, scope: "actors:call" },
  { methods: READ, path: /^\/metrics$/, scope: "metrics:read" },
  // The Inngest-shaped REST API, where the bearer token guards it (dev mode with a token).
  {
    methods: READ,
    path: /^\/v[01]\/(runs|events|functions|cancellations)(\/|$)/,
    scope: "runs:read",
  },
  { methods: ["POST"], path: /^\/v1\/events$/, scope: "events:send" },
  { methods: WRITE, path: /^\/v[01]\//, scope: "runs:write" },
];

/**
 * The scope a request needs: the first matching rule's, or `admin` when none matches; `any` for
 * routes every accepted token may call (`/mcp`, whose tools each check their own scope).
 */
export function requiredScope(method: string, path: string): RequiredScope {
  const verb = method.toUpperCase();
  for (const rule of RULES) {
    if (rule.methods !== "*" && !rule.methods.includes(verb)) continue;
    if (rule.path.test(path)) return rule.scope;
  }
  return "admin";
}
