import { TroupeError } from "@troupe/core";
import type { Expr } from "pgsql-ast-parser";
import { PgError, SQLSTATE } from "./pg-error.js";
import type { SqlValue } from "./pg-types.js";
import type { EngineContext } from "./query-types.js";
import { type EvalScope, evaluate } from "./sql-eval.js";

/** True for a call of `troupe.call_actor(…)`. */
export function isCallActor(expr: Expr): expr is Extract<Expr, { type: "call" }> {
  return (
    expr.type === "call" &&
    expr.function.name.toLowerCase() === "call_actor" &&
    expr.function.schema?.toLowerCase() === "troupe"
  );
}

/** Runs `troupe.call_actor(type, key, action, args)` through the actor system. */
export async function callActor(
  expr: Extract<Expr, { type: "call" }>,
  scope: EvalScope,
  context: EngineContext,
): Promise<SqlValue> {
  const system = context.system;
  if (system === undefined)
    throw new PgError(
      SQLSTATE.featureNotSupported,
      "troupe.call_actor: no actor system on this server",
    );
  const [type, key, action, args] = expr.args.map((arg) => evaluate(arg, scope));
  if (typeof type !== "string" || typeof action !== "string" || key === null || key === undefined) {
    throw new PgError(
      SQLSTATE.invalidParameterValue,
      "troupe.call_actor(type text, key text, action text, args jsonb)",
    );
  }
  let callArgs: unknown[] = [];
  if (args !== undefined && args !== null) {
    let parsed: unknown = args;
    if (typeof args === "string") {
      try {
        parsed = JSON.parse(args);
      } catch {
        throw new PgError(
          SQLSTATE.invalidTextRepresentation,
          "troupe.call_actor: args must be JSON (an array of arguments)",
        );
      }
    }
    callArgs = Array.isArray(parsed) ? parsed : [parsed];
  }
  const audited = { operation: "PG troupe.call_actor", target: `${type}/${String(key)}/${action}` };
  await context.guard?.require("actors:call", audited);
  try {
    const result = await system.invoke(
      type,
      typeof key === "string" ? key : String(key),
      action,
      callArgs,
    );
    context.guard?.record(audited, 200);
    return (
      result === undefined
        ? null
        : JSON.parse(JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))
    ) as SqlValue;
  } catch (error) {
    context.guard?.record(audited, TroupeError.isInstance(error, "INVALID_ARGUMENT") ? 400 : 500);
    if (TroupeError.isInstance(error)) {
      throw new PgError(
        error.code === "INVALID_ARGUMENT"
          ? SQLSTATE.invalidParameterValue
          : SQLSTATE.externalRoutineException,
        `troupe.call_actor: ${error.code}: ${error.message}`,
      );
    }
    throw error;
  }
}
