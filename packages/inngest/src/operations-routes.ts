import {
  type Clock,
  createJsonCodec,
  invalidArgument,
  type Store,
  TroupeError,
  zodIssueError,
} from "@troupe/core";
import type { Flows } from "@troupe/flows";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { BRACKETS } from "./register-schema.js";

/** What the operations routes need from the API. */
export interface OperationsRoutesOptions {
  readonly flows: Flows;
  /** Where cancellation records are kept (the API's Store). */
  readonly store: Store;
  /** The API's key prefix; records go under `<prefix>cx/`. */
  readonly prefix: string;
  readonly clock: Clock;
  /** A fresh id for a cancellation record. */
  readonly newId: () => string;
  /** True for a function id the engine runs. */
  readonly hasFunction: (functionId: string) => boolean;
}

/** Largest body of an operations request. */
const MAX_OPERATION_BODY_BYTES = 64 * 1024;

const rfc3339 = z
  .string()
  .refine((text) => Number.isFinite(Date.parse(text)), "expected an RFC 3339 time");

/** `POST /v1/cancellations`, as Inngest's REST API takes it. */
const cancellationBody = z.strictObject({
  app_id: z.string().min(1).optional(),
  function_id: z.string().min(1, "expected a function id"),
  started_after: rfc3339.optional(),
  started_before: rfc3339,
  if: z.string().min(1).max(4096).optional(),
  name: z.string().max(256).optional(),
});

/** `POST /v1/replays`: Troupe's bulk replay over a time range. */
const replayBody = z.strictObject({
  app_id: z.string().min(1).optional(),
  function_id: z.string().min(1, "expected a function id"),
  started_after: rfc3339.optional(),
  started_before: rfc3339,
  statuses: z
    .array(z.enum(["Failed", "Cancelled"]))
    .min(1)
    .optional(),
  if: z.string().min(1).max(4096).optional(),
});

const pauseBody = z.strictObject({ reason: z.string().max(1024).optional() });

/** A bulk cancellation as stored and returned. */
export interface CancellationRecord {
  readonly id: string;
  readonly environment_id: string;
  readonly app_id: string | null;
  readonly function_id: string;
  readonly started_after: string | null;
  readonly started_before: string;
  readonly if: string | null;
  readonly name: string | null;
  readonly created_at: string;
  /** Runs it cancelled. */
  readonly cancelled: number;
}

const codec = createJsonCodec<unknown>();

/** The body fields of the engine's option names, for errors the engine raises. */
const BODY_FIELDS: Record<string, string> = {
  functionId: "body.function_id",
  from: "body.started_after",
  to: "body.started_before",
  if: "body.if",
  statuses: "body.statuses",
};

/** Runs an engine call, renaming a field its validation error names to the request's field. */
async function asRequestFields<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const field = TroupeError.isInstance(error, "INVALID_ARGUMENT")
      ? error.details?.field
      : undefined;
    if (typeof field !== "string" || !TroupeError.isInstance(error)) throw error;
    const option = field.split(".")[1] ?? "";
    const renamed = BODY_FIELDS[option];
    if (renamed === undefined) throw error;
    throw invalidArgument(renamed, error.message.slice(field.length + 2).trim());
  }
}

/**
 * The operations an Inngest user reaches over REST: bulk cancellation (`/v1/cancellations`,
 * Inngest's shape), and Troupe's pause/resume (`/v1/functions/:id/pause|resume`) and bulk replay
 * (`/v1/replays`). Each request is checked whole before anything is changed, so a bad field gets
 * a 400 naming it and nothing half-applied. Authorization is the API's `/v1/*` guard.
 */
export function mountOperationsRoutes(app: Hono, options: OperationsRoutesOptions): void {
  const { flows, store, clock } = options;
  const base = `${options.prefix}cx/`;
  const recordKey = (id: string) => `${base}${id}`;

  const limit = bodyLimit({
    maxSize: MAX_OPERATION_BODY_BYTES,
    onError: () =>
      Response.json(
        { status: 413, error: `body: larger than ${MAX_OPERATION_BODY_BYTES} bytes` },
        { status: 413 },
      ),
  });
  app.use("/v1/cancellations", limit);
  app.use("/v1/cancellations/*", limit);
  app.use("/v1/replays", limit);
  app.use("/v1/functions/*", limit);

  const parse = async <T>(request: Request, schema: z.ZodType<T>, empty?: T): Promise<T> => {
    const text = await request.text();
    if (text.trim() === "" && empty !== undefined) return empty;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw invalidArgument(
        "body",
        `is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw zodIssueError(parsed.error, "body", BRACKETS);
    return parsed.data;
  };

  /**
   * The registered id of `function_id`: the SDK registers `<app id>-<function id>`, and Inngest
   * users name the function by its own id next to `app_id`; either form is accepted.
   */
  const resolveFunction = (functionId: string, appId: string | undefined) => {
    const candidates = appId === undefined ? [functionId] : [`${appId}-${functionId}`, functionId];
    const found = candidates.find((candidate) => options.hasFunction(candidate));
    if (found !== undefined) return found;
    throw new TroupeError(
      "NOT_FOUND",
      `body.function_id: no synced function ${JSON.stringify(functionId)}${appId === undefined ? "" : ` in app ${JSON.stringify(appId)}`}`,
      { details: { field: "body.function_id" } },
    );
  };

  const rangeOf = (body: { started_after?: string | undefined; started_before: string }) => {
    const to = Date.parse(body.started_before);
    const from = body.started_after === undefined ? undefined : Date.parse(body.started_after);
    if (from !== undefined && from > to)
      throw invalidArgument("body.started_before", "must not be before started_after");
    return { to, ...(from === undefined ? {} : { from }) };
  };

  app.post("/v1/cancellations", async (c) => {
    const body = await parse(c.req.raw, cancellationBody);
    const functionId = resolveFunction(body.function_id, body.app_id);
    const result = await asRequestFields(() =>
      flows.cancelRuns({
        functionId,
        ...rangeOf(body),
        ...(body.if === undefined ? {} : { if: body.if }),
        reason: body.name ? `bulk cancellation "${body.name}"` : "bulk cancellation",
      }),
    );
    const record: CancellationRecord = {
      id: options.newId(),
      environment_id: "troupe",
      app_id: body.app_id ?? null,
      function_id: body.function_id,
      started_after: body.started_after ?? null,
      started_before: body.started_before,
      if: body.if ?? null,
      name: body.name ?? null,
      created_at: new Date(clock.now()).toISOString(),
      cancelled: result.cancelled,
    };
    await store.commit([{ type: "set", key: recordKey(record.id), value: codec.encode(record) }]);
    return c.json(record);
  });

  app.get("/v1/cancellations", async (c) => {
    const entries = await store.list({ prefix: base, limit: 1000, reverse: true });
    return c.json({
      data: entries.map((entry) => codec.decode(entry.value) as CancellationRecord),
      metadata: { fetched_at: new Date(clock.now()).toISOString() },
    });
  });

  app.delete("/v1/cancellations/:id", async (c) => {
    const id = c.req.param("id");
    const entry = await store.get(recordKey(id));
    if (!entry) throw new TroupeError("NOT_FOUND", `cancellation ${id} not found`);
    await store.commit([{ type: "delete", key: recordKey(id), expect: entry.version }]);
    return c.json({ data: codec.decode(entry.value) as CancellationRecord });
  });

  app.post("/v1/replays", async (c) => {
    const body = await parse(c.req.raw, replayBody);
    const functionId = resolveFunction(body.function_id, body.app_id);
    const { replays } = await asRequestFields(() =>
      flows.replayRuns({
        functionId,
        ...rangeOf(body),
        ...(body.if === undefined ? {} : { if: body.if }),
        statuses: (body.statuses ?? ["Failed", "Cancelled"]).map((status) =>
          status === "Failed" ? "failed" : "cancelled",
        ),
      }),
    );
    return c.json({
      data: {
        function_id: body.function_id,
        replays: replays.map(({ runId, replayRunId }) => ({
          run_id: runId,
          replay_run_id: replayRunId,
        })),
      },
    });
  });

  app.get("/v1/functions/paused", async (c) =>
    c.json({
      data: (await flows.listPausedFunctions()).map((paused) => ({
        function_id: paused.functionId,
        paused_at: new Date(paused.pausedAt).toISOString(),
        reason: paused.reason ?? null,
      })),
    }),
  );

  app.post("/v1/functions/:id/pause", async (c) => {
    const body = await parse(c.req.raw, pauseBody, {});
    const functionId = c.req.param("id");
    const changed = await flows.pauseFunction(
      functionId,
      body.reason === undefined ? {} : { reason: body.reason },
    );
    return c.json({ data: { function_id: functionId, paused: true, changed } });
  });

  app.post("/v1/functions/:id/resume", async (c) => {
    const functionId = c.req.param("id");
    await parse(c.req.raw, z.strictObject({}), {});
    const changed = await flows.resumeFunction(functionId);
    return c.json({ data: { function_id: functionId, paused: false, changed } });
  });
}
