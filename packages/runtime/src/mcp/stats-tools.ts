import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { TroupeError } from "@troupe/core";
import { formatExplanation } from "@troupe/stats";
import { z } from "zod";
import type { StatsService } from "../stats/stats-service.js";
import { runTool, type ToolContext } from "./mcp-context.js";

const actorId = z
  .string({ error: "expected an actor id (a string)" })
  .regex(/^[A-Za-z0-9._:@-]{1,256}$/, "expected 1-256 letters, digits or ._:@-");
const resolveInput = z.strictObject({ actorId });
const explainInput = z.strictObject({
  actorId,
  dimension: z
    .string({ error: "expected a dimension id" })
    .min(1, "expected a dimension id")
    .max(256),
});

function service(context: ToolContext): StatsService {
  const stats = context.deps.stats;
  if (stats === undefined) {
    throw new TroupeError("UNAVAILABLE", "this runtime has no stats service (config `stats`)");
  }
  return stats;
}

/** Stats: resolve an actor's snapshot and explain one dimension, from the runtime's stats service. */
export function registerStatsTools(server: McpServer, context: () => ToolContext): void {
  server.registerTool(
    "resolve_stats",
    {
      title: "Resolve an actor's stats",
      description:
        "The resolved stat snapshot of one actor (every dimension's value). Scope stats:read.",
      inputSchema: resolveInput,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(
        context(),
        "resolve_stats",
        { scope: "stats:read", mutates: false },
        args,
        async () => ({
          snapshot: await service(context()).snapshot(args.actorId),
        }),
      ),
  );

  server.registerTool(
    "explain_stats",
    {
      title: "Explain a stat",
      description:
        "Why one dimension of an actor has its value: the contributions in order, as data and text. Scope stats:read.",
      inputSchema: explainInput,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(
        context(),
        "explain_stats",
        { scope: "stats:read", mutates: false },
        args,
        async () => {
          const explanation = await service(context()).explain(args.actorId, args.dimension);
          return { explanation, text: formatExplanation(explanation) };
        },
      ),
  );
}
