import { invalidArgument, parseWith, TroupeError } from "@troupe/core";
import { formatExplanation } from "@troupe/stats";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { assertKnownSystem, parseOutputBody } from "./actor-outputs.js";
import { snapshotBytes } from "./snapshot-bytes.js";
import type { OutputWrite, StatsService } from "./stats-service.js";

const ACTOR_ID = /^[A-Za-z0-9._:@-]{1,256}$/;

const STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  STORE_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
};

const batchWriteSchema = z.strictObject({
  writes: z
    .array(
      z.strictObject({
        actorId: z
          .string()
          .regex(ACTOR_ID, "expected an actor id (1–256 of A-Z a-z 0-9 . _ : @ -)"),
        system: z.string(),
        output: z.unknown(),
      }),
    )
    .min(1, "expected at least one write"),
});

function actorIdParam(value: string, field: string): string {
  if (!ACTOR_ID.test(value)) {
    throw invalidArgument(field, "expected an actor id (1–256 of A-Z a-z 0-9 . _ : @ -)");
  }
  return value;
}

/**
 * The `/stats/actors` routes over a {@link StatsService}: per-actor outputs in, snapshots and
 * explanations out, one-by-one and in batches. Every body is limited to `maxBodyBytes`.
 */
export function createStatsRoutes(
  service: StatsService,
  limits: { readonly maxBodyBytes: number; readonly maxBatch: number },
): Hono {
  const app = new Hono();
  app.use(
    "*",
    bodyLimit({
      maxSize: limits.maxBodyBytes,
      onError: () => {
        throw new TroupeError(
          "PAYLOAD_TOO_LARGE",
          `body: larger than the stats routes' limit of ${limits.maxBodyBytes} bytes`,
        );
      },
    }),
  );
  const readJson = async (request: Request): Promise<unknown> => {
    try {
      return await request.json();
    } catch {
      throw invalidArgument("body", "is not valid JSON");
    }
  };
  const writeResult = (changes: readonly { actorId: string; version: number }[]) => ({
    actors: changes,
  });

  app.get("/", async (context) => {
    const ids = context.req.query("ids");
    if (ids !== undefined) {
      const actorIds = ids.split(",").filter((id) => id !== "");
      if (actorIds.length === 0 || actorIds.length > limits.maxBatch) {
        throw invalidArgument("ids", `expected 1 to ${limits.maxBatch} comma-separated actor ids`);
      }
      for (const [index, id] of actorIds.entries()) actorIdParam(id, `ids[${index}]`);
      return context.json({ results: await service.snapshots(actorIds) });
    }
    const limitText = context.req.query("limit") ?? "100";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxBatch) {
      throw invalidArgument("limit", `expected an integer from 1 to ${limits.maxBatch}`);
    }
    const after = context.req.query("after");
    const actors = await service.list(
      limit,
      after === undefined ? undefined : actorIdParam(after, "after"),
    );
    return context.json({ actors, registry: service.registryStatus() });
  });

  app.put("/", async (context) => {
    const { writes } = parseWith(batchWriteSchema, await readJson(context.req.raw), "body", {
      unknownKey: "unknown field",
      pathStyle: "brackets",
    });
    if (writes.length > limits.maxBatch) {
      throw invalidArgument("body.writes", `at most ${limits.maxBatch} writes per batch`);
    }
    const parsed: OutputWrite[] = writes.map((write, index) => {
      const field = `body.writes[${index}]`;
      assertKnownSystem(write.system, service.systems, `${field}.system`);
      return {
        actorId: write.actorId,
        system: write.system,
        output:
          write.output === null
            ? null
            : parseOutputBody(write.output, write.system, `${field}.output`),
      };
    });
    return context.json(writeResult(await service.write(parsed)));
  });

  app.get("/:id", async (context) => {
    const snapshot = await service.snapshot(actorIdParam(context.req.param("id"), "id"));
    context.header("Content-Type", "application/json");
    const bytes = snapshotBytes(snapshot);
    return context.body(
      new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length),
    );
  });

  app.put("/:id/subsystems/:system", async (context) => {
    const actorId = actorIdParam(context.req.param("id"), "id");
    const system = context.req.param("system");
    assertKnownSystem(system, service.systems, "system");
    const output = parseOutputBody(await readJson(context.req.raw), system, "body");
    return context.json(writeResult(await service.write([{ actorId, system, output }])));
  });

  app.delete("/:id/subsystems/:system", async (context) => {
    const actorId = actorIdParam(context.req.param("id"), "id");
    const system = context.req.param("system");
    assertKnownSystem(system, service.systems, "system");
    return context.json(writeResult(await service.write([{ actorId, system, output: null }])));
  });

  app.get("/:id/explain/:dimension", async (context) => {
    const actorId = actorIdParam(context.req.param("id"), "id");
    const explanation = await service.explain(actorId, context.req.param("dimension"));
    return context.json({ explanation, text: formatExplanation(explanation) });
  });

  app.all("*", (context) => {
    throw new TroupeError(
      "NOT_FOUND",
      `no stats route ${context.req.method} ${context.req.path}: use GET|PUT /stats/actors, GET /stats/actors/:id, PUT|DELETE /stats/actors/:id/subsystems/:system or GET /stats/actors/:id/explain/:dimension`,
    );
  });

  app.onError((error, context) => {
    if (TroupeError.isInstance(error)) {
      const status = STATUS[error.code] ?? 500;
      return context.json({ status, code: error.code, message: error.message }, status);
    }
    throw error;
  });
  return app;
}
