import { type Clock, TroupeError } from "@troupe/core";
import type { FlowEvent, Flows, RunView } from "@troupe/flows";
import type { Hono } from "hono";
import type { FailReply } from "./api-http.js";
import { DEFAULT_MAX_LIST_BYTES, pageNewestFirst } from "./rest-paging.js";
import { toRestEvent, toRestRun } from "./rest-shapes.js";

/** What the REST routes need from the API around them. */
export interface RestRouteDeps {
  readonly flows: Flows;
  readonly fail: FailReply;
  readonly clock: Clock;
  /** Most bytes of one `GET /v1/events` page. */
  readonly maxListBytes?: number | undefined;
}

const limitOf = (raw: string | undefined, fallback: number) => {
  const limit = Number(raw ?? fallback);
  return Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : fallback;
};

const timeQuery = (raw: string | undefined, field: string) => {
  if (raw === undefined || raw === "") return undefined;
  const at = Date.parse(raw);
  if (!Number.isFinite(at)) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      `${field}: expected an RFC 3339 time, got ${JSON.stringify(raw)}`,
      {
        details: { field },
      },
    );
  }
  return at;
};

/**
 * The REST v1 routes scripts read results with (`/v1/events`, `/v1/events/:id[/runs]`,
 * `/v1/runs/:id`, cancellation) and the v0 routes SDKs fetch large call inputs from
 * (`/v0/runs/:id/batch|actions`). Authorization is the caller's guard on `/v0/*` and `/v1/*`.
 */
export function mountRestRoutes(app: Hono, deps: RestRouteDeps): void {
  const { flows, fail, clock } = deps;

  /**
   * Runs an event started, from the engine's runs-by-event index: a batch run is listed under
   * each of its events, a debounced run under the event that closed the debounce.
   */
  const runsOfEvent = async (eventId: string): Promise<RunView[]> => {
    const { runs } = await flows.getEventRuns(eventId);
    const views = await Promise.all(runs.map((summary) => flows.getRun(summary.id)));
    return views.filter((run): run is RunView => run !== undefined);
  };

  app.get("/v1/events", async (c) => {
    const name = c.req.query("name");
    const from = timeQuery(c.req.query("received_after"), "received_after");
    const to = timeQuery(c.req.query("received_before"), "received_before");
    // Bounded by bytes as well as count: a page of 512 KiB events would otherwise be huge.
    const page = await pageNewestFirst<FlowEvent>(
      ({ limit, to: before }) =>
        flows.listEvents({
          ...(name ? { name } : {}),
          ...(from === undefined ? {} : { from }),
          ...(before === undefined ? {} : { to: before }),
          limit,
          newestFirst: true,
        }),
      {
        limit: limitOf(c.req.query("limit"), 100),
        to,
        cursor: c.req.query("cursor"),
        maxBytes: deps.maxListBytes ?? DEFAULT_MAX_LIST_BYTES,
        toJson: toRestEvent,
      },
    );
    return c.json({
      data: page.data,
      metadata: { fetched_at: new Date(clock.now()).toISOString() },
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    });
  });

  app.get("/v1/events/:id", async (c) => {
    const event = await flows.getEvent(c.req.param("id"));
    if (!event) return fail(404, `event ${c.req.param("id")} not found`);
    return c.json({ data: toRestEvent(event) });
  });

  app.get("/v1/events/:id/runs", async (c) => {
    const runs = await runsOfEvent(c.req.param("id"));
    return c.json({
      data: runs.map(toRestRun),
      metadata: { fetched_at: new Date(clock.now()).toISOString() },
    });
  });

  app.get("/v1/runs/:id", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    return c.json({ data: toRestRun(run) });
  });

  const cancel = async (runId: string) => {
    const run = await flows.getRun(runId);
    if (!run) return fail(404, `run ${runId} not found`);
    await flows.cancel(runId, "cancelled through the REST API");
    const after = await flows.getRun(runId);
    return Response.json({ data: after ? toRestRun(after) : null });
  };
  app.delete("/v1/runs/:id", (c) => cancel(c.req.param("id")));
  app.post("/v1/runs/:id/cancel", (c) => cancel(c.req.param("id")));
}

/** `GET /v0/runs/:id/batch|actions`: a run's events and step results, for large call inputs. */
export function mountRunInputRoutes(app: Hono, deps: RestRouteDeps): void {
  const { flows, fail } = deps;
  app.get("/v0/runs/:id/batch", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    return c.json(
      run.events.map((event) => ({
        id: event.id,
        name: event.name,
        data: event.data,
        ts: event.ts,
        user: event.user ?? {},
      })),
    );
  });

  app.get("/v0/runs/:id/actions", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    const steps: Record<string, unknown> = {};
    for (const step of run.steps) {
      if (step.status === "completed") steps[step.hash] = { data: step.output ?? null };
      else if (step.status === "failed") steps[step.hash] = { error: step.error ?? null };
    }
    return c.json(steps);
  });
}
