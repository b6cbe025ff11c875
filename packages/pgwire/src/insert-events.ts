import { TroupeError } from "@troupe/core";
import type { EventData } from "@troupe/flows";
import type { InsertStatement } from "pgsql-ast-parser";
import { maxParam } from "./max-param.js";
import { PgError, SQLSTATE, unsupported } from "./pg-error.js";
import type { EngineContext, Field, PreparedQuery } from "./query-types.js";
import { type EvalScope, evaluate } from "./sql-eval.js";

/** `INSERT INTO events (name, data[, id, ts]) VALUES … [RETURNING id]`: sends the events. */
export function prepareInsert(statement: InsertStatement, context: EngineContext): PreparedQuery {
  const target = statement.into.name.toLowerCase();
  if (target !== "events") {
    throw unsupported(
      `INSERT INTO ${target} (only events accept rows: INSERT INTO events (name, data) VALUES …)`,
    );
  }
  if (statement.insert.type !== "values") throw unsupported("INSERT … SELECT");
  const columns = (statement.columns ?? [{ name: "name" }, { name: "data" }]).map((column) =>
    column.name.toLowerCase(),
  );
  for (const column of columns) {
    if (!["name", "data", "id", "ts"].includes(column)) {
      throw new PgError(
        SQLSTATE.undefinedColumn,
        `column "${column}" of relation "events" does not exist (name, data, id, ts)`,
      );
    }
  }
  if (!columns.includes("name"))
    throw new PgError("23502", 'null value in column "name" of relation "events"');
  const returning = statement.returning ?? [];
  for (const item of returning) {
    if (item.expr.type !== "ref" || (item.expr.name !== "id" && item.expr.name !== "*")) {
      throw unsupported("RETURNING anything but id");
    }
  }
  const values = statement.insert.values;
  const fields: Field[] | undefined =
    returning.length > 0 ? [{ name: "id", type: "text" }] : undefined;
  return {
    fields,
    paramCount: maxParam(statement),
    async run(params) {
      const flows = context.flows;
      if (flows === undefined)
        throw new PgError(
          SQLSTATE.featureNotSupported,
          "INSERT INTO events: no flows engine on this server",
        );
      const scope: EvalScope = { row: undefined, params, now: context.now(), table: undefined };
      const events = values.map((row) => {
        if (row.length !== columns.length) {
          throw new PgError(
            SQLSTATE.syntaxError,
            "INSERT has more expressions than target columns",
          );
        }
        const event: Record<string, unknown> = {};
        row.forEach((expr, index) => {
          let value: unknown = evaluate(expr, scope);
          const column = columns[index] as string;
          if (column === "data" && typeof value === "string") {
            try {
              value = JSON.parse(value);
            } catch {
              throw new PgError(
                SQLSTATE.invalidTextRepresentation,
                'column "data": invalid input syntax for type json',
              );
            }
          }
          if (column === "ts" && value !== null)
            value = value instanceof Date ? value.getTime() : Date.parse(String(value));
          if (value !== null) event[column] = value;
        });
        return event as { name: string; data?: EventData };
      });
      const action = {
        operation: "PG INSERT INTO events",
        target: events.map((event) => event.name).join(" "),
      };
      await context.guard?.require("events:send", action);
      let ids: string[];
      try {
        ({ ids } = await flows.send(events));
      } catch (error) {
        context.guard?.record(
          action,
          TroupeError.isInstance(error, "INVALID_ARGUMENT") ? 400 : 500,
        );
        if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) {
          throw new PgError(SQLSTATE.invalidParameterValue, `INSERT INTO events: ${error.message}`);
        }
        throw error;
      }
      context.guard?.record(action, 200);
      return {
        fields,
        rows: fields === undefined ? [] : ids.map((id) => [id]),
        tag: `INSERT 0 ${ids.length}`,
      };
    },
  };
}
