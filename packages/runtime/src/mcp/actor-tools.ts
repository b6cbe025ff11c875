import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ActorSystem, ActorTypeInfo } from "@troupe/actors";
import { fromUtf8, jsonCodec, TroupeError } from "@troupe/core";
import { z } from "zod";
import { keyFromPath } from "../actors-routes.js";
import { runTool, type ToolContext } from "./mcp-context.js";

const typeName = z
  .string({ error: "expected an actor type name" })
  .min(1, "expected an actor type name")
  .max(256);
const key = z
  .union([z.string().max(1024), z.number().int()], {
    error: 'expected the actor key (a string or an integer; "_" for key-less types)',
  })
  .optional();
const callActorInput = z.strictObject({
  type: typeName,
  key,
  action: z.string({ error: "expected an action name" }).min(1, "expected an action name").max(256),
  args: z.array(z.unknown(), { error: "expected an array of arguments" }).max(64).optional(),
});
const actorStateInput = z.strictObject({ type: typeName, key });

function running(context: ToolContext): ActorSystem {
  const system = context.deps.actors?.();
  if (system === undefined) {
    throw new TroupeError("UNAVAILABLE", "this runtime hosts no actors (config `actors`)");
  }
  return system;
}

function typeOf(system: ActorSystem, name: string): ActorTypeInfo {
  const type = system.types().find((candidate) => candidate.name === name);
  if (type === undefined) {
    const known = system.types().map((candidate) => candidate.name);
    throw new TroupeError(
      "NOT_FOUND",
      `no actor type ${JSON.stringify(name)} (types: ${known.length > 0 ? known.join(", ") : "none"})`,
    );
  }
  return type;
}

// Results and state may hold bigint, Date or bytes: tagged by the codec, as the REST API does.
const plain = (value: unknown): unknown => JSON.parse(fromUtf8(jsonCodec.encode(value ?? null)));

/** Actors: list types, call an action, read an actor's state. */
export function registerActorTools(server: McpServer, context: () => ToolContext): void {
  server.registerTool(
    "list_actor_types",
    {
      title: "List actor types",
      description:
        "The actor types this runtime hosts, with their key kind and actions. Scope actors:read.",
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(
        context(),
        "list_actor_types",
        { scope: "actors:read", mutates: false },
        args,
        async () => {
          const system = running(context());
          return { nodeId: system.nodeId, types: system.types() };
        },
      ),
  );

  server.registerTool(
    "call_actor",
    {
      title: "Call an actor",
      description:
        "Calls an action of one actor and answers its result. Scope actors:call; audited.",
      inputSchema: callActorInput,
    },
    (args) =>
      runTool(
        context(),
        "call_actor",
        {
          scope: "actors:call",
          mutates: true,
          target: (input) => `${input.type}/${String(input.key ?? "_")}/${input.action}`,
        },
        args,
        async () => {
          const system = running(context());
          const type = typeOf(system, args.type);
          if (!type.actions.some((candidate) => candidate.name === args.action)) {
            throw new TroupeError(
              "NOT_FOUND",
              `${type.name} has no action ${JSON.stringify(args.action)} (actions: ${type.actions.map((candidate) => candidate.name).join(", ")})`,
            );
          }
          const actorKey = keyFromPath(type, String(args.key ?? "_"));
          return {
            result: plain(await system.invoke(type.name, actorKey, args.action, args.args ?? [])),
          };
        },
      ),
  );

  server.registerTool(
    "get_actor_state",
    {
      title: "Read an actor's state",
      description: "One actor's saved state and version. Scope actors:read.",
      inputSchema: actorStateInput,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      runTool(
        context(),
        "get_actor_state",
        { scope: "actors:read", mutates: false },
        args,
        async () => {
          const system = running(context());
          const type = typeOf(system, args.type);
          return plain(
            await system.inspectState(type.name, keyFromPath(type, String(args.key ?? "_"))),
          );
        },
      ),
  );
}
