import { invalidArgument, parseWith, TroupeError } from "@troupe/core";
import type { Flows } from "@troupe/flows";
import type { Hono } from "hono";
import { z } from "zod";
import { API_FIELDS, readBody } from "./params.js";

/** A time in a body: milliseconds since the epoch or an ISO 8601 date. */
const bodyTime = z.union([
  z.number().int().min(0),
  z.string().transform((text, context) => {
    const ms = Date.parse(text);
    if (!Number.isFinite(ms)) {
      context.addIssue({ code: "custom", message: "expected an ISO 8601 date or ms" });
      return z.NEVER;
    }
    return ms;
  }),
]);

const pauseBody = z.strictObject({ reason: z.string().max(1000).optional() });
const selection = {
  from: bodyTime.optional(),
  to: bodyTime,
  if: z.string().min(1).max(4096).optional(),
};
const bulkCancelBody = z.strictObject({ ...selection, reason: z.string().max(1000).optional() });
const bulkReplayBody = z.strictObject({
  ...selection,
  statuses: z
    .array(z.enum(["failed", "cancelled"]))
    .min(1)
    .optional(),
});

/** Renames an engine option named in a validation error to the body field it came from. */
async function asBodyFields<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const field = TroupeError.isInstance(error, "INVALID_ARGUMENT")
      ? error.details.field
      : undefined;
    if (typeof field !== "string" || !TroupeError.isInstance(error)) throw error;
    const option = field.split(".")[1];
    if (option === undefined || option === "functionId") throw error;
    throw invalidArgument(`body.${option}`, error.message.slice(field.length + 2).trim());
  }
}

/**
 * The dashboard's operations on a function: pause and resume (`GET /paused` lists the paused),
 * bulk cancel of its unfinished runs and bulk replay of its failed or cancelled runs created in
 * `[from, to)`. Each body is validated whole first, so a bad field is a 400 naming it and
 * nothing changes; an unknown function is a 404.
 */
export function mountDashboardOperations(
  app: Hono,
  options: { readonly flows: Flows; readonly hasFunction: (functionId: string) => boolean },
): void {
  const { flows } = options;
  const known = (functionId: string) => {
    if (!options.hasFunction(functionId))
      throw new TroupeError("NOT_FOUND", `function ${JSON.stringify(functionId)} not found`, {
        details: { id: functionId },
      });
    return functionId;
  };

  app.get("/paused", async (context) => context.json({ data: await flows.listPausedFunctions() }));

  app.post("/functions/:id/pause", async (context) => {
    const body = parseWith(pauseBody, await readBody(context.req.raw), "body", API_FIELDS);
    const id = known(context.req.param("id"));
    const changed = await flows.pauseFunction(
      id,
      body.reason === undefined ? {} : { reason: body.reason },
    );
    return context.json({ paused: true, changed });
  });

  app.post("/functions/:id/resume", async (context) => {
    parseWith(z.strictObject({}), await readBody(context.req.raw), "body", API_FIELDS);
    const changed = await flows.resumeFunction(known(context.req.param("id")));
    return context.json({ paused: false, changed });
  });

  app.post("/functions/:id/bulk-cancel", async (context) => {
    const body = parseWith(bulkCancelBody, await readBody(context.req.raw), "body", API_FIELDS);
    const functionId = known(context.req.param("id"));
    const result = await asBodyFields(() =>
      flows.cancelRuns({
        functionId,
        to: body.to,
        ...(body.from === undefined ? {} : { from: body.from }),
        ...(body.if === undefined ? {} : { if: body.if }),
        reason: body.reason ?? "bulk cancellation from the dashboard",
      }),
    );
    return context.json(result);
  });

  app.post("/functions/:id/bulk-replay", async (context) => {
    const body = parseWith(bulkReplayBody, await readBody(context.req.raw), "body", API_FIELDS);
    const functionId = known(context.req.param("id"));
    const result = await asBodyFields(() =>
      flows.replayRuns({
        functionId,
        to: body.to,
        ...(body.from === undefined ? {} : { from: body.from }),
        ...(body.if === undefined ? {} : { if: body.if }),
        ...(body.statuses === undefined ? {} : { statuses: body.statuses }),
      }),
    );
    return context.json(result);
  });
}
