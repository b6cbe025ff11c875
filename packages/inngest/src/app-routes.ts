import type { Logger } from "@troupe/core";
import { zodIssueError } from "@troupe/core";
import type { Hono } from "hono";
import type { ApiAuth } from "./api-auth.js";
import { type FailReply, readJson, type ServerKind } from "./api-http.js";
import { BRACKETS, registerSchema } from "./register-schema.js";
import type { createAppRegistry } from "./registry.js";

/** What the app routes need from the API around them. */
export interface AppRouteDeps {
  readonly mode: "dev" | "start";
  readonly serverKind: ServerKind;
  readonly registry: ReturnType<typeof createAppRegistry>;
  /** Resolves once stored apps are loaded; a sync waits for it. */
  readonly loaded: Promise<void>;
  readonly auth: ApiAuth;
  readonly fail: FailReply;
  readonly logger: Logger;
}

/**
 * `POST /fn/register` (an SDK syncing its functions), `GET /dev` (what is synced: in start mode
 * only for holders of the signing key) and `GET /health`.
 */
export function mountAppRoutes(app: Hono, deps: AppRouteDeps): void {
  const { mode, serverKind, registry, auth, fail, logger } = deps;

  app.post("/fn/register", async (c) => {
    if (!auth.authorized(c.req.header("authorization")))
      return fail(401, "Unauthorized: the signing key does not match");
    const expected = c.req.header("x-inngest-expected-server-kind");
    if (expected && expected !== serverKind) {
      // The SDK echoes the kind it was pinged by; a mismatch means two servers claim the app.
      return fail(
        400,
        `x-inngest-expected-server-kind: the app expects a ${expected} server, this one is ${serverKind}`,
      );
    }
    await deps.loaded;
    const parsed = registerSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      return fail(400, zodIssueError(parsed.error, "body", BRACKETS).message);
    }
    const result = await registry.sync(parsed.data);
    logger.info("inngest: app synced", { app: result.appName, modified: result.modified });
    return c.json({ ok: true, modified: result.modified, app_id: result.appName });
  });

  app.get("/health", (c) => c.json({ status: 200, message: "OK" }));

  // It lists app URLs and function ids: in start mode only for holders of the signing key.
  app.get("/dev", (c) =>
    !auth.authorized(c.req.header("authorization"))
      ? fail(401, "Unauthorized: the signing key does not match")
      : c.json({
          version: "troupe",
          startOpts: { dev: mode === "dev", sdkURLs: registry.apps().map((a) => a.url) },
          functions: registry
            .apps()
            .flatMap((a) =>
              a.functions.map((fn) => ({ id: fn.id, name: fn.name ?? fn.id, app: a.appName })),
            ),
          handlers: registry
            .apps()
            .map((a) => ({ url: a.url, sdk: a.sdk ?? null, app: a.appName })),
          features: {},
        }),
  );
}
