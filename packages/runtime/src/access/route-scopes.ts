import type { Scope } from "./scopes.js";

/** One rule: requests whose method and path match need `scope`. */
interface Rule {
  readonly methods: readonly string[] | "*";
  readonly path: RegExp;
  /** `null`: any valid token; the route checks scopes itself (the MCP tools, per tool). */
  readonly scope: Scope | null;
}

const READ = ["GET", "HEAD"];
const WRITE = ["POST", "PUT", "PATCH", "DELETE"];

// First match wins; a path no rule names needs `admin`, so a route added later is closed until
// it is given a scope here.
const RULES: readonly Rule[] = [
  { methods: "*", path: /^\/api\/(tokens|audit)(\/|$)/, scope: "admin" },
  { methods: "*", path: /^\/mcp$/, scope: null },
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
 * The scope a request needs: the first matching rule's, or `admin` when none matches; `null` for
 * `/mcp`, whose tools each check their own scope.
 */
export function requiredScope(method: string, path: string): Scope | null {
  const verb = method.toUpperCase();
  for (const rule of RULES) {
    if (rule.methods !== "*" && !rule.methods.includes(verb)) continue;
    if (rule.path.test(path)) return rule.scope;
  }
  return "admin";
}
