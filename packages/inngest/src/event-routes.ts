import { hasLoneSurrogate, secretIn, zodIssueError } from "@troupe/core";
import type { EventInput, Flows } from "@troupe/flows";
import type { Hono } from "hono";
import { z } from "zod";
import { readJson } from "./api-http.js";
import { eventIdsFromSeed } from "./event-id-seed.js";
import { BRACKETS } from "./register-schema.js";
import { isClientError } from "./registry.js";

const eventBodySchema = z.looseObject({
  // A lone surrogate (`"\ud800"`) is valid JSON but no Unicode text: it cannot be stored or put
  // in a URL, so it is refused here rather than failing deep inside the engine.
  name: z.string().refine((name) => !hasLoneSurrogate(name), {
    message: "expected well-formed Unicode text (it holds a lone surrogate)",
  }),
  data: z.unknown().optional(),
  user: z.unknown().optional(),
  id: z.unknown().optional(),
  ts: z.unknown().optional(),
  v: z.unknown().optional(),
});

/** Keeps the event fields flows knows; drops SDK extras such as `meta`. */
function toEventInput(value: z.infer<typeof eventBodySchema>): EventInput {
  return {
    name: value.name,
    ...(value.data === undefined || value.data === null
      ? {}
      : { data: value.data as Record<string, unknown> }),
    ...(value.user === undefined || value.user === null
      ? {}
      : { user: value.user as Record<string, unknown> }),
    ...(value.id === undefined || value.id === null || value.id === ""
      ? {}
      : { id: value.id as string }),
    ...(value.ts === undefined || value.ts === null || value.ts === 0
      ? {}
      : { ts: value.ts as number }),
    ...(value.v === undefined || value.v === null || value.v === ""
      ? {}
      : { v: value.v as string }),
  };
}

/** What the event route needs from the API around it. */
export interface EventRouteDeps {
  readonly flows: Flows;
  readonly mode: "dev" | "start";
  /** Event keys accepted in `start` mode (dev accepts any non-empty key). */
  readonly eventKeys: readonly string[];
}

/**
 * `POST /e/:key`: one event or an array of up to 5000, each checked (a 400 names the failing
 * `events[i]` field and sends nothing); the SDK's `x-inngest-event-id-seed` keeps a retried
 * send's ids.
 */
export function mountEventRoutes(app: Hono, deps: EventRouteDeps): void {
  const { flows, mode, eventKeys } = deps;
  app.post("/e/:key", async (c) => {
    const key = c.req.param("key");
    if (key === "" || (mode === "start" && !secretIn(key, eventKeys))) {
      return c.json({ ids: [], status: 401, error: "Event key not found" }, 401);
    }
    let body: unknown;
    try {
      body = await readJson(c.req.raw);
    } catch (error) {
      return c.json(
        { ids: [], status: 400, error: error instanceof Error ? error.message : String(error) },
        400,
      );
    }
    const list = Array.isArray(body) ? body : [body];
    if (list.length > 5000) {
      return c.json({ ids: [], status: 400, error: "body: at most 5000 events per request" }, 400);
    }
    const inputs: EventInput[] = [];
    for (const [index, item] of list.entries()) {
      const parsed = eventBodySchema.safeParse(item);
      if (!parsed.success) {
        const root = Array.isArray(body) ? `events[${index}]` : "event";
        const { message } = zodIssueError(parsed.error, root, BRACKETS);
        return c.json({ ids: [], status: 400, error: message }, 400);
      }
      inputs.push(toEventInput(parsed.data));
    }
    // SDKs send a seed so that a retried send keeps its ids (and starts nothing twice).
    const seeded = eventIdsFromSeed(c.req.header("x-inngest-event-id-seed"), inputs.length);
    if (seeded) {
      inputs.forEach((input, index) => {
        const eventId = seeded[index];
        if (eventId !== undefined) inputs[index] = { ...input, eventId };
      });
    }
    try {
      const { ids } = await flows.send(inputs);
      return c.json({ ids, status: 200 });
    } catch (error) {
      if (isClientError(error)) return c.json({ ids: [], status: 400, error: error.message }, 400);
      throw error;
    }
  });
}
