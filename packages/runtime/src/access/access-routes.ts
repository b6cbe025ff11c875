import { parseWith } from "@troupe/core";
import type { SigningKeyring } from "@troupe/inngest";
import { Hono } from "hono";
import { z } from "zod";
import { principalOf } from "./access-control.js";
import type { AuditLog } from "./audit-log.js";
import type { Scope } from "./scopes.js";
import { createTokenSchema, type TokenRegistry } from "./token-registry.js";

const auditQuerySchema = z.strictObject({
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  token: z.string().min(1).optional(),
  operation: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z
    .string()
    .regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, "expected a cursor from a previous page")
    .optional(),
});

/** `GET /api/whoami`: who the caller is and what it may do. */
export interface WhoAmI {
  /** `root`, `signing-key`, a scoped token's name, or `anonymous` when the runtime has no token. */
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** Whether the runtime asks for a token at all. */
  readonly auth: boolean;
}

/**
 * `/api/whoami` (any accepted token: the dashboard hides what the token may not do),
 * `/api/tokens` (list, create, revoke), `/api/audit` (query) and `/api/signing-keys` (which keys
 * are accepted now, by hash prefix). All but whoami need `admin`, which the access control checks
 * before these run.
 */
export function createAccessRoutes(
  registry: TokenRegistry,
  audit: AuditLog,
  signingKeys?: Pick<SigningKeyring, "status">,
): Hono {
  const app = new Hono();
  app.get("/whoami", (context) => {
    const principal = principalOf(context);
    // No principal: the runtime has no auth token, so every caller may do everything.
    const body: WhoAmI = principal
      ? { name: principal.name, scopes: principal.scopes, auth: true }
      : { name: "anonymous", scopes: ["admin"], auth: false };
    return context.json(body);
  });
  app.get("/signing-keys", (context) => context.json({ data: signingKeys?.status() ?? [] }));
  app.get("/tokens", async (context) => context.json({ data: await registry.list() }));
  app.post("/tokens", async (context) => {
    const body = parseWith(createTokenSchema, await context.req.json(), "body", {
      unknownKey: "unknown field",
    });
    const created = await registry.create(body);
    return context.json(created, 201);
  });
  app.delete("/tokens/:id", async (context) =>
    context.json(await registry.revoke(context.req.param("id"))),
  );
  app.get("/audit", async (context) => {
    const query = parseWith(auditQuerySchema, context.req.query(), "query", {
      unknownKey: "unknown parameter",
    });
    return context.json(await audit.query(query));
  });
  return app;
}
