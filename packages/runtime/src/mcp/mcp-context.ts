import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ActorSystem } from "@troupe/actors";
import { TroupeError } from "@troupe/core";
import type { EventData, FlowFunction, Flows } from "@troupe/flows";
import type { InngestApi } from "@troupe/inngest";
import type { AuditLog } from "../access/audit-log.js";
import { grants, type Scope } from "../access/scopes.js";
import type { StatsService } from "../stats/stats-service.js";

/** Who calls a tool: the principal the HTTP access control (or `troupe mcp`) recognised. */
export interface McpCaller {
  /** `root`, `signing-key`, the scoped token's name, or `anonymous` (dev without a token). */
  readonly name: string;
  readonly tokenId?: string | undefined;
  readonly scopes: readonly Scope[];
  /** The client's address, for the audit log. */
  readonly source: string;
}

/** What the MCP tools run against: the runtime's engines, as the HTTP routes see them. */
export interface McpDeps {
  readonly flows: Flows;
  readonly inngest?: InngestApi | undefined;
  /** In-process functions. */
  readonly functions?: readonly FlowFunction<unknown, EventData>[] | undefined;
  /** The actor system once the runtime started it. */
  readonly actors?: (() => ActorSystem | undefined) | undefined;
  /** The per-actor stats service (`config.stats`), when configured. */
  readonly stats?: StatsService | undefined;
  readonly audit: AuditLog;
  /** Record `send_event` calls in the audit log too (`audit.events`). Default false. */
  readonly auditEvents?: boolean | undefined;
}

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  readonly deps: McpDeps;
  readonly caller: McpCaller;
}

/** A refusal for a caller whose token lacks `scope`: names the scope, as the HTTP 403 does. */
export class ScopeError extends Error {
  constructor(readonly scope: Scope) {
    super(`Forbidden: this token lacks the scope ${scope}`);
  }
}

/** Throws {@link ScopeError} unless the caller holds `scope` (`admin` holds every scope). */
export function requireScope(caller: McpCaller, scope: Scope): void {
  if (!grants(caller.scopes, scope)) throw new ScopeError(scope);
}

/** A tool result carrying `value` as JSON text and as structured content. */
export function jsonResult(value: unknown): CallToolResult {
  const structured =
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { result: value };
  return {
    content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
    structuredContent: structured,
  };
}

/** A tool result reporting a failure: the error's code and message, for the model to read. */
export function errorResult(error: unknown): CallToolResult {
  const text =
    error instanceof ScopeError
      ? error.message
      : TroupeError.isInstance(error)
        ? `${error.code}: ${error.message}`
        : error instanceof Error
          ? error.message
          : String(error);
  return { content: [{ type: "text", text }], isError: true };
}

/** The status a tool outcome is audited with, in the HTTP vocabulary the log already uses. */
function statusOf(error: unknown): number {
  if (error === undefined) return 200;
  if (error instanceof ScopeError) return 403;
  if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) return 400;
  if (TroupeError.isInstance(error, "NOT_FOUND")) return 404;
  if (TroupeError.isInstance(error, "UNAVAILABLE")) return 503;
  return 500;
}

/** What one tool declares: its scope, whether it mutates, and the audit target of a call. */
export interface ToolRule<Args> {
  readonly scope: Scope;
  /** Mutating tools are audited (refusals included), like mutating HTTP routes. */
  readonly mutates: boolean;
  readonly target?: (args: Args) => string;
}

/**
 * Runs one tool call: checks the scope, runs `work`, turns its value or error into a tool result
 * and, for a mutating tool, appends one audit entry (`MCP <tool>`) once the work is done.
 */
export async function runTool<Args>(
  context: ToolContext,
  tool: string,
  rule: ToolRule<Args>,
  args: Args,
  work: () => Promise<unknown>,
): Promise<CallToolResult> {
  let failure: unknown;
  let result: CallToolResult;
  try {
    requireScope(context.caller, rule.scope);
    result = jsonResult(await work());
  } catch (error) {
    failure = error;
    result = errorResult(error);
  }
  if (rule.mutates) {
    await context.deps.audit.append({
      token: context.caller.name,
      tokenId: context.caller.tokenId,
      source: context.caller.source,
      operation: `MCP ${tool}`,
      target: rule.target?.(args) ?? tool,
      status: statusOf(failure),
    });
  }
  return result;
}
