import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { invalidArgument, TroupeError } from "@troupe/core";
import type { RunStatus } from "@troupe/flows";
import { z } from "zod";
import { runDetail } from "../api/dashboard-api.js";
import { runTool, type ToolContext } from "./mcp-context.js";

const RUN_STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
const runId = z
  .string({ error: "expected a run id (a string)" })
  .min(1, "expected a run id")
  .max(128, "expected at most 128 characters");

const listRunsInput = z.strictObject({
  function: z.string({ error: "expected a function id" }).min(1).max(256).optional(),
  status: z
    .array(z.enum(RUN_STATUSES, { error: `expected one of ${RUN_STATUSES.join(", ")}` }))
    .max(5)
    .optional(),
  limit: z
    .number({ error: "expected a number" })
    .int("expected an integer")
    .min(1, "expected 1-100")
    .max(100, "expected 1-100")
    .optional(),
});
const getRunInput = z.strictObject({ runId });
const cancelRunInput = z.strictObject({
  runId,
  reason: z.string({ error: "expected a string" }).max(1000).optional(),
});
const rerunRunInput = z.strictObject({
  runId,
  fromStep: z.string({ error: "expected a step id or hash" }).min(1).max(256).optional(),
});

function notFound(id: string): TroupeError {
  return new TroupeError("NOT_FOUND", `run ${JSON.stringify(id)} not found`, { details: { id } });
}

/** Runs and functions: list and inspect runs, cancel and rerun them, list functions. */
export function registerRunTools(server: McpServer, context: () => ToolContext): void {
  server.registerTool(
    "list_runs",
    {
      title: "List runs",
      description:
        "Lists runs, newest first, optionally of one function and in some statuses. Scope runs:read.",
      inputSchema: listRunsInput,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(context(), "list_runs", { scope: "runs:read", mutates: false }, args, async () => ({
        data: await context().deps.flows.listRuns({
          newestFirst: true,
          limit: args.limit ?? 20,
          ...(args.function === undefined ? {} : { functionId: args.function }),
          ...(args.status === undefined || args.status.length === 0
            ? {}
            : { status: args.status as RunStatus[] }),
        }),
      })),
  );

  server.registerTool(
    "get_run",
    {
      title: "Inspect a run",
      description:
        "One run with its steps: each step's status, attempts, timing, output and errors. Scope runs:read.",
      inputSchema: getRunInput,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(context(), "get_run", { scope: "runs:read", mutates: false }, args, async () => {
        const run = await context().deps.flows.getRun(args.runId);
        if (!run) throw notFound(args.runId);
        return { data: runDetail(run) };
      }),
  );

  server.registerTool(
    "cancel_run",
    {
      title: "Cancel a run",
      description: "Cancels a queued or running run. Scope runs:write; audited.",
      inputSchema: cancelRunInput,
      annotations: { destructiveHint: true },
    },
    (args) =>
      runTool(
        context(),
        "cancel_run",
        { scope: "runs:write", mutates: true, target: (input) => `run ${input.runId}` },
        args,
        async () => {
          const { flows } = context().deps;
          if (!(await flows.getRun(args.runId))) throw notFound(args.runId);
          return { cancelled: await flows.cancel(args.runId, args.reason ?? "cancelled over MCP") };
        },
      ),
  );

  server.registerTool(
    "rerun_run",
    {
      title: "Rerun a run",
      description:
        "Starts a new run with the same event; with fromStep, the steps before it are reused. Scope runs:write; audited.",
      inputSchema: rerunRunInput,
    },
    (args) =>
      runTool(
        context(),
        "rerun_run",
        { scope: "runs:write", mutates: true, target: (input) => `run ${input.runId}` },
        args,
        async () => {
          const { flows } = context().deps;
          const run = await flows.getRun(args.runId);
          if (!run) throw notFound(args.runId);
          const from = args.fromStep;
          if (from !== undefined && !run.steps.some((s) => s.id === from || s.hash === from)) {
            throw invalidArgument(
              "fromStep",
              `run ${args.runId} has no step ${JSON.stringify(from)}`,
            );
          }
          return {
            runId: await flows.rerun(
              args.runId,
              from === undefined ? undefined : { fromStep: from },
            ),
          };
        },
      ),
  );

  server.registerTool(
    "list_functions",
    {
      title: "List functions",
      description:
        "The functions the runtime runs (in-process and synced apps) with their triggers. Scope runs:read.",
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(
        context(),
        "list_functions",
        { scope: "runs:read", mutates: false },
        args,
        async () => {
          const { deps } = context();
          const data: unknown[] = (deps.functions ?? []).map((fn) => ({
            id: fn.id,
            name: fn.definition.name,
            source: "in-process",
            triggers: fn.definition.triggers,
          }));
          for (const app of deps.inngest?.apps() ?? []) {
            for (const fn of app.functions) {
              data.push({
                id: fn.id,
                name: fn.name ?? fn.id,
                source: "app",
                appName: app.appName,
                triggers: fn.triggers,
              });
            }
          }
          return { data };
        },
      ),
  );
}
