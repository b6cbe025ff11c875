import type { Reply } from "./reply.js";
import type { RespServerContext } from "./server-context.js";

/** `INFO [section]`: the server, clients, stats and keyspace sections Redis tools read. */
export function renderInfo(context: RespServerContext, section: string | undefined): Reply {
  const wanted = (section ?? "default").toLowerCase();
  const all = wanted === "all" || wanted === "everything" || wanted === "default";
  const now = context.clock.now();
  const { stats } = context;
  const sections: [string, [string, string | number][]][] = [
    [
      "server",
      [
        // Tools gate features on the version they see; this is the command set Troupe follows.
        ["redis_version", "7.2.0"],
        ["redis_mode", "standalone"],
        ["troupe_server", "resp"],
        ["troupe_node_id", context.nodeId],
        ["process_id", process.pid],
        ["tcp_port", context.port()],
        ["uptime_in_seconds", Math.floor((now - context.startedAt) / 1000)],
      ],
    ],
    [
      "clients",
      [
        ["connected_clients", stats.connectionsOpen],
        ["rejected_connections", stats.rejectedConnections],
      ],
    ],
    ["persistence", [["loading", 0]]],
    [
      "stats",
      [
        ["total_connections_received", stats.connectionsTotal],
        ["total_commands_processed", stats.commandsTotal],
        ["total_error_replies", stats.errorsTotal],
        ["protocol_errors", stats.protocolErrorsTotal],
      ],
    ],
    [
      "replication",
      [
        ["role", "master"],
        ["connected_slaves", 0],
      ],
    ],
    ["keyspace", [["troupe_active_actors", context.system.activationCount()]]],
  ];
  const lines: string[] = [];
  for (const [name, fields] of sections) {
    if (!all && wanted !== name) continue;
    lines.push(`# ${name[0]?.toUpperCase()}${name.slice(1)}`);
    for (const [field, value] of fields) lines.push(`${field}:${value}`);
    lines.push("");
  }
  return { verbatim: lines.join("\r\n") };
}
