import { hasLoneSurrogate, invalidArgument, parseWith, TroupeError } from "@troupe/core";
import type {
  EventData,
  FlowEvent,
  FlowFunction,
  Flows,
  RunStatus,
  RunSummary,
  RunView,
  StepView,
} from "@troupe/flows";
import { fetchBeforeCursor, type InngestApi } from "@troupe/inngest";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { DEFAULT_LIST_LIMIT_BYTES, takeWithinBytes } from "../security/list-bounds.js";
import { mountDashboardOperations } from "./dashboard-operations.js";
import { API_FIELDS, cursorParam, limitParam, readBody, timeParam } from "./params.js";
import { type DashboardStatsOptions, statsExplain, statsResolve } from "./stats.js";
import type {
  DashboardApp,
  DashboardFunction,
  DashboardInfo,
  DashboardPage,
  DashboardRunDetail,
} from "./wire-types.js";

/**
 * The seam for an actor system (`@troupe/actors`). Until one is configured, `/api/actors/…`
 * answers 501.
 */
export interface DashboardActors {
  /** Routes served under `/api/actors` (activations by type and node, state, calling actions). */
  readonly app: Hono;
}

/** What the dashboard API reads from and steers. */
export interface DashboardApiOptions {
  /** The flows engine. */
  readonly flows: Flows;
  /** The Inngest API, for synced apps and syncing by URL. */
  readonly inngest?: InngestApi | undefined;
  /** In-process functions the runtime was created with. */
  readonly functions?: readonly FlowFunction<unknown, EventData>[];
  /** A stats registry; without one, stats requests must bring their own. */
  readonly stats?: DashboardStatsOptions | undefined;
  /** An actor system; without one, `/api/actors` answers 501. */
  readonly actors?: DashboardActors | undefined;
  /** What `/api/info` reports. */
  readonly info: { readonly mode: string; readonly storage: string; readonly auth: boolean };
  /** Most bytes of one runs or events page; a page that would be larger ends early. Default 4 MiB. */
  readonly listLimitBytes?: number;
  /**
   * Whether `POST /apps/sync` may contact a URL; a refused one answers 403 before any request is
   * made. Default: any URL.
   */
  readonly canSyncUrl?: (url: string) => boolean;
  /** Answer every failed sync with one message, whatever the app answered. Default false. */
  readonly uniformSyncErrors?: boolean;
}

const RUN_STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;

const runsQuery = z.object({
  function: z.string().min(1).optional(),
  status: z
    .string()
    .transform((text) => text.split(",").filter((part) => part !== ""))
    .pipe(z.array(z.enum(RUN_STATUSES, { message: `expected ${RUN_STATUSES.join(", ")}` })))
    .optional(),
  from: timeParam,
  to: timeParam,
  limit: limitParam,
  cursor: cursorParam,
});

const eventsQuery = z.object({
  name: z.string().min(1).optional(),
  from: timeParam,
  to: timeParam,
  limit: limitParam,
  cursor: cursorParam,
});

const sendBody = z.object({
  name: z
    .string()
    .min(1, "expected a non-empty event name")
    .refine((name) => !hasLoneSurrogate(name), {
      message: "expected well-formed Unicode text (it holds a lone surrogate)",
    }),
  data: z.record(z.string(), z.unknown()).optional(),
  user: z.record(z.string(), z.unknown()).optional(),
});
const cancelBody = z.object({ reason: z.string().max(1000).optional() });
const rerunBody = z.object({ fromStep: z.string().min(1).optional() });
const invokeBody = z.object({ data: z.record(z.string(), z.unknown()).optional() });
const syncBody = z.object({ url: z.url({ message: "expected the app's serve URL" }) });

/**
 * One dashboard list page: the window after `cursor` from {@link fetchBeforeCursor}, bounded by
 * bytes too (the cursor then points past the last item that fit).
 */
async function pageBefore<T extends { readonly id: string }>(
  list: (query: { limit: number; to?: number }) => Promise<readonly T[]>,
  limit: number,
  to: number | undefined,
  cursor: string | undefined,
  maxBytes: number,
): Promise<DashboardPage<T>> {
  const window = await fetchBeforeCursor(list, { limit, to, cursor });
  const { items: data, truncated } = takeWithinBytes(window.items, maxBytes);
  const last = data[data.length - 1];
  return { data, nextCursor: (window.more || truncated) && last ? last.id : null };
}

function durationOf(step: StepView): number | null {
  return step.startedAt !== undefined && step.endedAt !== undefined
    ? step.endedAt - step.startedAt
    : null;
}

/** A run with each step's duration, the shape of `GET /api/runs/:id`. */
export function runDetail(run: RunView): DashboardRunDetail {
  return {
    ...run,
    durationMs: run.endedAt !== undefined ? run.endedAt - (run.startedAt ?? run.createdAt) : null,
    steps: run.steps.map((step) => ({ ...step, durationMs: durationOf(step) })),
  };
}

function listFunctions(options: DashboardApiOptions): DashboardFunction[] {
  const out: DashboardFunction[] = [];
  for (const fn of options.functions ?? []) {
    out.push({
      id: fn.id,
      name: fn.definition.name,
      source: "in-process",
      triggers: fn.definition.triggers.map((trigger) =>
        "cron" in trigger ? { cron: trigger.cron } : { ...trigger },
      ),
      config: fn.definition,
    });
  }
  for (const app of options.inngest?.apps() ?? []) {
    for (const fn of app.functions) {
      out.push({
        id: fn.id,
        name: fn.name ?? fn.id,
        source: "app",
        appName: app.appName,
        triggers: fn.triggers.map((trigger) => {
          const record = trigger as { event?: unknown; expression?: unknown; cron?: unknown };
          return typeof record.cron === "string"
            ? { cron: record.cron }
            : {
                event: String(record.event),
                ...(typeof record.expression === "string" && record.expression !== ""
                  ? { if: record.expression }
                  : {}),
              };
        }),
        config: fn,
      });
    }
  }
  return out;
}

function notFound(what: string, id: string): TroupeError {
  return new TroupeError("NOT_FOUND", `${what} ${JSON.stringify(id)} not found`, {
    details: { id },
  });
}

/** `{ status, error: { code, message, field? } }`: what every failed `/api` request answers. */
function errorBody(status: number, code: string, message: string, field?: unknown) {
  return {
    status,
    error: { code, message, ...(typeof field === "string" ? { field } : {}) },
  };
}

/**
 * The dashboard's JSON API, mounted by the runtime under `/api` behind its auth token: runs
 * (filtered, paged, with step timelines; cancel, rerun, rerun from a step), events (list,
 * detail, send, replay), functions and apps (config, flow control, invoke, sync by URL), stats
 * (resolve and explain a pasted input) and, once configured, actors.
 */
export function createDashboardApi(options: DashboardApiOptions): Hono {
  const { flows } = options;
  const listLimitBytes = options.listLimitBytes ?? DEFAULT_LIST_LIMIT_BYTES;
  const app = new Hono();

  app.onError((error, context) => {
    if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) {
      return context.json(errorBody(400, error.code, error.message, error.details.field), 400);
    }
    if (TroupeError.isInstance(error, "NOT_FOUND")) {
      return context.json(errorBody(404, error.code, error.message), 404);
    }
    if (TroupeError.isInstance(error)) {
      const status: ContentfulStatusCode = error.code === "UNAVAILABLE" ? 503 : 500;
      return context.json(errorBody(status, error.code, error.message), status);
    }
    return context.json(
      errorBody(500, "INTERNAL", error instanceof Error ? error.message : String(error)),
      500,
    );
  });
  app.notFound((context) =>
    context.json(
      errorBody(
        404,
        "NOT_FOUND",
        `${context.req.method} ${context.req.path} is not a dashboard API route`,
      ),
      404,
    ),
  );

  app.get("/info", (context) => {
    const info: DashboardInfo = {
      ...options.info,
      inngest: options.inngest !== undefined,
      stats: options.stats !== undefined,
      actors: options.actors !== undefined,
    };
    return context.json(info);
  });

  // ------------------------------------------------------------------ runs

  app.get("/runs", async (context) => {
    const query = parseWith(runsQuery, context.req.query(), "query", API_FIELDS);
    const page = await pageBefore<RunSummary>(
      ({ limit, to }) =>
        flows.listRuns({
          newestFirst: true,
          limit,
          ...(query.function === undefined ? {} : { functionId: query.function }),
          ...(query.status === undefined || query.status.length === 0
            ? {}
            : { status: query.status as RunStatus[] }),
          ...(query.from === undefined ? {} : { from: query.from }),
          ...(to === undefined ? {} : { to }),
        }),
      query.limit ?? 50,
      query.to,
      query.cursor,
      listLimitBytes,
    );
    return context.json(page);
  });

  app.get("/runs/:id", async (context) => {
    const id = context.req.param("id");
    const run = await flows.getRun(id);
    if (!run) throw notFound("run", id);
    return context.json({ data: runDetail(run) });
  });

  app.post("/runs/:id/cancel", async (context) => {
    const id = context.req.param("id");
    const body = parseWith(cancelBody, await readBody(context.req.raw), "body", API_FIELDS);
    if (!(await flows.getRun(id))) throw notFound("run", id);
    const cancelled = await flows.cancel(id, body.reason ?? "cancelled from the dashboard");
    return context.json({ cancelled });
  });

  app.post("/runs/:id/rerun", async (context) => {
    const id = context.req.param("id");
    const body = parseWith(rerunBody, await readBody(context.req.raw), "body", API_FIELDS);
    const run = await flows.getRun(id);
    if (!run) throw notFound("run", id);
    if (
      body.fromStep !== undefined &&
      !run.steps.some((step) => step.id === body.fromStep || step.hash === body.fromStep)
    ) {
      throw invalidArgument(
        "body.fromStep",
        `run ${id} has no step ${JSON.stringify(body.fromStep)}`,
      );
    }
    const runId = await flows.rerun(
      id,
      body.fromStep === undefined ? undefined : { fromStep: body.fromStep },
    );
    return context.json({ runId });
  });

  // ---------------------------------------------------------------- events

  app.get("/events", async (context) => {
    const query = parseWith(eventsQuery, context.req.query(), "query", API_FIELDS);
    const page = await pageBefore<FlowEvent>(
      ({ limit, to }) =>
        flows.listEvents({
          newestFirst: true,
          limit,
          ...(query.name === undefined ? {} : { name: query.name }),
          ...(query.from === undefined ? {} : { from: query.from }),
          ...(to === undefined ? {} : { to }),
        }),
      query.limit ?? 50,
      query.to,
      query.cursor,
      listLimitBytes,
    );
    return context.json(page);
  });

  app.get("/events/:id", async (context) => {
    const id = context.req.param("id");
    const event = await flows.getEvent(id);
    if (!event) throw notFound("event", id);
    const { runs, skipped } = await flows.getEventRuns(id);
    return context.json({ data: event, runs, skipped });
  });

  app.post("/events", async (context) => {
    const body = parseWith(sendBody, await readBody(context.req.raw), "body", API_FIELDS);
    const { ids } = await flows.send({
      name: body.name,
      data: body.data ?? {},
      ...(body.user === undefined ? {} : { user: body.user }),
    });
    return context.json({ ids });
  });

  app.post("/events/:id/replay", async (context) => {
    const id = context.req.param("id");
    const event = await flows.getEvent(id);
    if (!event) throw notFound("event", id);
    // A new event with the same name and payload: a copy of the id would be deduplicated.
    const { ids } = await flows.send({
      name: event.name,
      data: event.data as Record<string, unknown>,
      ...(event.user === undefined ? {} : { user: event.user as Record<string, unknown> }),
    });
    return context.json({ ids, replayOf: id });
  });

  // ------------------------------------------------------ functions and apps

  app.get("/functions", (context) => context.json({ data: listFunctions(options) }));

  app.get("/functions/:id", async (context) => {
    const id = context.req.param("id");
    const fn = listFunctions(options).find((candidate) => candidate.id === id);
    if (!fn) throw notFound("function", id);
    const flowControl = await flows.getFlowControlState(id);
    return context.json({ data: fn, flowControl });
  });

  app.post("/functions/:id/invoke", async (context) => {
    const id = context.req.param("id");
    const body = parseWith(invokeBody, await readBody(context.req.raw), "body", API_FIELDS);
    const fn = listFunctions(options).find((candidate) => candidate.id === id);
    if (!fn) throw notFound("function", id);
    // An `inngest/function.invoked` event routed to this function only, as Inngest's dashboard
    // does: other functions on the same trigger do not run.
    const { eventId } = await flows.invoke(id, { data: body.data ?? {} });
    const { runs, skipped } = await flows.getEventRuns(eventId);
    return context.json({
      eventId,
      event: "inngest/function.invoked",
      runs: runs.filter((run) => run.functionId === id),
      skipped: skipped.filter((skip) => skip.functionId === id),
    });
  });

  app.get("/apps", (context) =>
    context.json({
      data: (options.inngest?.apps() ?? []).map(
        (stored): DashboardApp => ({
          appName: stored.appName,
          url: stored.url,
          framework: stored.framework ?? null,
          sdk: stored.sdk ?? null,
          syncedAt: stored.syncedAt,
          functions: stored.functions.map((fn) => fn.id),
        }),
      ),
    }),
  );

  app.post("/apps/sync", async (context) => {
    const body = parseWith(syncBody, await readBody(context.req.raw), "body", API_FIELDS);
    if (!options.inngest) {
      throw new TroupeError("UNAVAILABLE", "this runtime serves no Inngest API, so it has no apps");
    }
    if (options.canSyncUrl && !options.canSyncUrl(body.url)) {
      return context.json(
        errorBody(
          403,
          "FORBIDDEN",
          "body.url: not a configured app; list it in apps or security.appSyncAllowlist",
          "body.url",
        ),
        403,
      );
    }
    const result = await options.inngest.syncApp(body.url);
    if (!result.ok && options.uniformSyncErrors) {
      return context.json(
        {
          ok: false,
          status: 502,
          message: "the app did not sync (the server log has why)",
          modified: false,
        },
        502,
      );
    }
    return context.json(result, result.ok ? 200 : 502);
  });

  mountDashboardOperations(app, {
    flows,
    hasFunction: (id) => listFunctions(options).some((fn) => fn.id === id),
  });

  // ----------------------------------------------------------------- stats

  app.post("/stats/resolve", async (context) =>
    context.json({ snapshot: statsResolve(await readBody(context.req.raw), options.stats) }),
  );
  app.post("/stats/explain", async (context) =>
    context.json(statsExplain(await readBody(context.req.raw), options.stats)),
  );

  // ---------------------------------------------------------------- actors

  if (options.actors) {
    app.route("/actors", options.actors.app);
  } else {
    app.all("/actors/*", (context) =>
      context.json(
        errorBody(
          501,
          "NOT_IMPLEMENTED",
          "no actor system is configured in this runtime: actors appear here once @troupe/actors is composed into it",
        ),
        501,
      ),
    );
    app.all("/actors", (context) =>
      context.json(
        errorBody(
          501,
          "NOT_IMPLEMENTED",
          "no actor system is configured in this runtime: actors appear here once @troupe/actors is composed into it",
        ),
        501,
      ),
    );
  }

  return app;
}
