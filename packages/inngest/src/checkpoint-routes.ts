import { zodIssueError } from "@troupe/core";
import type { Hono } from "hono";
import { z } from "zod";
import type { ApiAuth } from "./api-auth.js";
import { type FailReply, readJson } from "./api-http.js";
import type { CheckpointInbox } from "./checkpoint.js";
import { BRACKETS } from "./register-schema.js";

const checkpointBodySchema = z.looseObject({
  run_id: z.string().optional(),
  steps: z.array(z.unknown()),
});

/** What the checkpoint route needs from the API around it. */
export interface CheckpointRouteDeps {
  readonly mode: "dev" | "start";
  readonly inbox: CheckpointInbox;
  readonly auth: ApiAuth;
  readonly fail: FailReply;
}

/**
 * `POST /v1/checkpoint/:runId/async`: a v4 SDK reports the steps it ran within one call request;
 * they are kept until the call's reply is applied.
 */
export function mountCheckpointRoutes(app: Hono, deps: CheckpointRouteDeps): void {
  const { mode, inbox, auth, fail } = deps;
  app.post("/v1/checkpoint/:runId/async", async (c) => {
    const runId = c.req.param("runId");
    if (mode === "start" && !auth.authorized(c.req.header("authorization")))
      return fail(401, "Unauthorized");
    const parsed = checkpointBodySchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      return fail(400, zodIssueError(parsed.error, "body", BRACKETS).message);
    }
    await inbox.put(runId, parsed.data.steps);
    return c.json({ ok: true });
  });
}
