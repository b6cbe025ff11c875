import { parseWith } from "@troupe/core";
import { Hono } from "hono";
import { z } from "zod";
import type { AuditLog } from "./audit-log.js";
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

/**
 * `/api/tokens` (list, create, revoke) and `/api/audit` (query). Both need `admin`, which the
 * access control checks before these run.
 */
export function createAccessRoutes(registry: TokenRegistry, audit: AuditLog): Hono {
  const app = new Hono();
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
