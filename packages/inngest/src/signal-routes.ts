import { zodIssueError } from "@troupe/core";
import type { Flows } from "@troupe/flows";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";

/** Largest `POST /v1/signals` body: 512 KiB, as an event. */
const MAX_SIGNAL_BODY_BYTES = 512 * 1024;

const signalBodySchema = z.strictObject({
  signal: z
    .string({ error: "expected the signal's name (a string)" })
    .refine((value) => value.trim() !== "", "expected a non-empty signal name"),
  data: z.unknown().optional(),
});

/** What the signal route needs from the API around it. */
export interface SignalRouteDeps {
  readonly flows: Flows;
  /** An Inngest-style error reply. */
  readonly fail: (status: ContentfulStatusCode, message: string) => Response;
  /** The request's JSON body (throws INVALID_ARGUMENT naming `body`). */
  readonly readJson: (request: Request) => Promise<unknown>;
}

/**
 * `POST /v1/signals` (the SDK's `sendSignal` and `step.sendSignal`): `{ signal, data }` resumes
 * the run waiting for the signal and answers `{ data: { run_id } }`; with no run waiting it
 * answers 404, which the SDK turns into `{ runId: undefined }`. Bad bodies get a 400 naming the
 * field and change nothing. Authorized like the other `/v1` routes.
 */
export function mountSignalRoutes(app: Hono, deps: SignalRouteDeps): void {
  app.use(
    "/v1/signals",
    bodyLimit({
      maxSize: MAX_SIGNAL_BODY_BYTES,
      onError: () => deps.fail(413, `body: larger than ${MAX_SIGNAL_BODY_BYTES} bytes`),
    }),
  );
  app.post("/v1/signals", async (c) => {
    const parsed = signalBodySchema.safeParse(await deps.readJson(c.req.raw));
    if (!parsed.success) return deps.fail(400, zodIssueError(parsed.error, "body").message);
    const { runId } = await deps.flows.sendSignal(parsed.data.signal, parsed.data.data ?? null);
    if (runId === undefined)
      return deps.fail(404, `no run is waiting for signal ${JSON.stringify(parsed.data.signal)}`);
    return c.json({ data: { run_id: runId } });
  });
}
