import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { runTool, type ToolContext } from "./mcp-context.js";

const sendEventInput = z.strictObject({
  name: z
    .string({ error: "expected an event name (a string)" })
    .min(1, "expected an event name")
    .max(256, "expected at most 256 characters"),
  data: z.record(z.string(), z.unknown(), { error: "expected a JSON object" }).optional(),
  user: z.record(z.string(), z.unknown(), { error: "expected a JSON object" }).optional(),
  id: z.string({ error: "expected an idempotency id (a string)" }).min(1).max(256).optional(),
});

/** Events: send one, as `POST /api/events` does. */
export function registerEventTools(server: McpServer, context: () => ToolContext): void {
  server.registerTool(
    "send_event",
    {
      title: "Send an event",
      description:
        "Sends one event; functions it triggers start runs. Answers the stored event ids. Scope events:send.",
      inputSchema: sendEventInput,
    },
    (args) => {
      const current = context();
      return runTool(
        current,
        "send_event",
        // Event sends are audited only when `audit.events` says so, as over HTTP.
        { scope: "events:send", mutates: current.deps.auditEvents === true, target: (a) => a.name },
        args,
        async () =>
          current.deps.flows.send({
            name: args.name,
            ...(args.data === undefined ? {} : { data: args.data }),
            ...(args.user === undefined ? {} : { user: args.user }),
            ...(args.id === undefined ? {} : { id: args.id }),
          }),
      );
    },
  );
}
