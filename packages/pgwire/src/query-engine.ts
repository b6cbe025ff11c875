import {
  type Expr,
  parse,
  type SelectedColumn,
  type SelectFromStatement,
  type Statement,
} from "pgsql-ast-parser";
import { tableScope } from "./access.js";
import { callActor, isCallActor } from "./call-actor.js";
import { answerCatalogQuery, isCatalogQuery } from "./catalog-queries.js";
import { prepareInsert } from "./insert-events.js";
import { normalizeLiterals } from "./literal-normalizer.js";
import { maxParam } from "./max-param.js";
import { PgError, SQLSTATE, unsupported } from "./pg-error.js";
import { formatValue, type PgTypeName, type SqlValue, typeOfValue } from "./pg-types.js";
import type { EngineContext, Field, PreparedQuery, QueryResult } from "./query-types.js";
import {
  compareValues,
  defaultColumnName,
  type EvalScope,
  evaluate,
  hasAggregate,
  inferType,
} from "./sql-eval.js";
import { findTable, type Row, type VirtualTable } from "./virtual-tables.js";

export type { EngineContext, Field, PreparedQuery, QueryResult } from "./query-types.js";

const PARSE_CACHE_SIZE = 500;
const parseCache = new Map<string, Statement[]>();

function parseSql(sql: string): Statement[] {
  const cached = parseCache.get(sql);
  if (cached !== undefined) return cached;
  let statements: Statement[];
  try {
    statements = parse(sql);
  } catch (error) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
    throw new PgError(SQLSTATE.syntaxError, `syntax error: ${message}`);
  }
  if (parseCache.size >= PARSE_CACHE_SIZE) parseCache.clear();
  parseCache.set(sql, statements);
  return statements;
}

/** Splits SQL text into prepared statements (the simple protocol may send several). */
export function prepareQueries(sql: string, context: EngineContext): PreparedQuery[] {
  if (sql.trim() === "" || /^[\s;]*$/.test(sql)) return [];
  // Queries differing only in WHERE literals share one parse (the simple protocol inlines them).
  const normalized = normalizeLiterals(sql);
  if (normalized !== undefined) {
    let template: Statement[] | undefined;
    try {
      template = parseSql(normalized.text);
    } catch {
      template = undefined;
    }
    const statement = template?.[0];
    if (template?.length === 1 && statement !== undefined && statement.type === "select") {
      const query = prepareStatement(statement, sql, context);
      const { values } = normalized;
      return [
        {
          fields: query.fields,
          paramCount: 0,
          run: (_params, signal) => query.run(values, signal),
        },
      ];
    }
  }
  let statements: Statement[];
  try {
    statements = parseSql(sql);
  } catch (error) {
    if (isCatalogQuery(sql)) return [canned(sql)];
    throw error;
  }
  return statements.map((statement) => prepareStatement(statement, sql, context));
}

function canned(sql: string): PreparedQuery {
  const answer = answerCatalogQuery(sql);
  return {
    fields: answer.fields,
    paramCount: maxParam(sql.match(/\$\d+/g)?.map((name) => ({ type: "parameter", name })) ?? []),
    run: async () => ({
      fields: answer.fields,
      rows: answer.rows.map((row) => [...row]),
      tag: `SELECT ${answer.rows.length}`,
    }),
  };
}

function command(tag: string): PreparedQuery {
  return {
    fields: undefined,
    paramCount: 0,
    run: async () => ({ fields: undefined, rows: [], tag }),
  };
}

function prepareStatement(
  statement: Statement,
  sql: string,
  context: EngineContext,
): PreparedQuery {
  switch (statement.type) {
    case "select":
      return prepareSelect(statement, sql, context);
    case "insert":
      return prepareInsert(statement, context);
    case "start transaction":
      return command("BEGIN");
    case "commit":
      return command("COMMIT");
    case "rollback":
      return command("ROLLBACK");
    case "set":
    case "set timezone":
    case "set names":
      return command("SET");
    case "show": {
      const name = statement.variable.name.toLowerCase();
      const value = context.settings.get(name) ?? "";
      const fields: Field[] = [{ name, type: "text" }];
      return {
        fields,
        paramCount: 0,
        run: async () => ({ fields, rows: [[value]], tag: "SHOW" }),
      };
    }
    case "update":
    case "delete":
      throw unsupported(
        `${statement.type.toUpperCase()} (Troupe's tables are read-only views; INSERT INTO events sends events)`,
      );
    default:
      if (isCatalogQuery(sql)) return canned(sql);
      throw unsupported(statement.type.toUpperCase());
  }
}

/** Equality hints for the sources, from the top-level AND of the WHERE clause. */
function scanHints(where: Expr | undefined, scope: EvalScope): Map<string, SqlValue[]> {
  const hints = new Map<string, SqlValue[]>();
  // An expression without column references has one value for every row.
  const constant = (expr: Expr): boolean => {
    let found = false;
    const visit = (node: unknown): void => {
      if (found || node === null || typeof node !== "object") return;
      if (
        (node as { type?: unknown }).type === "ref" ||
        (node as { type?: unknown }).type === "select"
      ) {
        found = true;
        return;
      }
      for (const child of Object.values(node)) visit(child);
    };
    visit(expr);
    return !found;
  };
  const visit = (expr: Expr): void => {
    if (expr.type !== "binary") return;
    if (expr.op === "AND") {
      visit(expr.left);
      visit(expr.right);
    } else if (expr.op === "=") {
      if (expr.left.type === "ref" && constant(expr.right)) {
        hints.set(expr.left.name, [evaluate(expr.right, scope)]);
      } else if (expr.right.type === "ref" && constant(expr.left)) {
        hints.set(expr.right.name, [evaluate(expr.left, scope)]);
      }
    } else if (expr.op === "IN" && expr.left.type === "ref" && expr.right.type === "list") {
      if (expr.right.expressions.every(constant)) {
        hints.set(
          expr.left.name,
          expr.right.expressions.map((item) => evaluate(item, scope)),
        );
      }
    }
  };
  if (where !== undefined) visit(where);
  return hints;
}

interface OutputColumn {
  readonly name: string;
  readonly expr: Expr | undefined;
  readonly column: string | undefined;
  readonly type: PgTypeName;
}

function outputColumns(
  columns: readonly SelectedColumn[] | undefined,
  table: VirtualTable | undefined,
): OutputColumn[] {
  const out: OutputColumn[] = [];
  for (const selected of columns ?? []) {
    const expr = selected.expr;
    if (expr.type === "ref" && expr.name === "*") {
      if (table === undefined)
        throw new PgError(SQLSTATE.syntaxError, "SELECT * with no tables specified is not valid");
      for (const column of table.columns) {
        out.push({ name: column.name, expr: undefined, column: column.name, type: column.type });
      }
      continue;
    }
    if (
      expr.type === "ref" &&
      table !== undefined &&
      !table.columns.some((column) => column.name === expr.name)
    ) {
      throw new PgError(
        SQLSTATE.undefinedColumn,
        `column "${expr.name}" does not exist in ${table.name}`,
      );
    }
    out.push({
      name: selected.alias?.name ?? defaultColumnName(expr),
      expr,
      column: undefined,
      type: inferType(expr, table),
    });
  }
  return out;
}

function limitValue(
  expr: Expr | null | undefined,
  scope: EvalScope,
  what: string,
): number | undefined {
  if (expr === undefined || expr === null) return undefined;
  const value = evaluate(expr, scope);
  if (value === null) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new PgError(SQLSTATE.invalidParameterValue, `${what} must be a non-negative integer`);
  }
  return number;
}

function prepareSelect(
  statement: Extract<Statement, { type: "select" }>,
  sql: string,
  context: EngineContext,
): PreparedQuery {
  if (statement.type !== "select") throw unsupported("UNION");
  const select = statement as SelectFromStatement;
  const from = select.from ?? [];
  if (
    from.length > 1 ||
    from.some((item) => item.type !== "table" || (item.join !== undefined && item.join !== null))
  ) {
    if (isCatalogQuery(sql)) return canned(sql);
    throw unsupported(
      from.length > 1 || from.some((item) => item.join) ? "JOIN" : "a subquery in FROM",
    );
  }
  const source = from[0];
  let table: VirtualTable | undefined;
  if (source !== undefined && source.type === "table") {
    table = findTable(source.name.name, source.name.schema);
    if (table === undefined) {
      if (isCatalogQuery(sql)) return canned(sql);
      throw new PgError(
        SQLSTATE.undefinedTable,
        `relation "${source.name.schema ? `${source.name.schema}.` : ""}${source.name.name}" does not exist`,
      );
    }
  }
  if (select.distinct !== undefined && select.distinct !== null) throw unsupported("DISTINCT");
  if (select.having !== undefined && select.having !== null) throw unsupported("HAVING");
  const columns = outputColumns(select.columns ?? [], table);
  const groupBy = select.groupBy ?? [];
  if (groupBy.length > 1) throw unsupported("GROUP BY on more than one column");
  const grouped =
    groupBy.length === 1 ||
    columns.some((column) => column.expr !== undefined && hasAggregate(column.expr));
  const fields: Field[] = columns.map((column) => ({ name: column.name, type: column.type }));
  const paramCount = maxParam(statement);

  const needs = table?.schema === "public" ? tableScope(table.name) : undefined;
  const run = async (params: readonly SqlValue[], signal: AbortSignal): Promise<QueryResult> => {
    if (needs !== undefined) await context.guard?.require(needs);
    const now = context.now();
    const base: EvalScope = { row: undefined, params, now, table };
    if (table === undefined) {
      if (grouped) throw unsupported("aggregates without FROM");
      const values: SqlValue[] = [];
      for (const column of columns) {
        const expr = column.expr as Expr;
        values.push(
          isCallActor(expr) ? await callActor(expr, base, context) : evaluate(expr, base),
        );
      }
      if (signal.aborted)
        throw new PgError(SQLSTATE.queryCanceled, "canceling statement due to user request");
      const rowFields = fields.map((field, index) =>
        field.type === "text" &&
        values[index] !== null &&
        typeof values[index] === "object" &&
        !(values[index] instanceof Date)
          ? { ...field, type: typeOfValue(values[index] as SqlValue) }
          : field,
      );
      return {
        fields: rowFields,
        rows: [values.map((value, index) => formatValue(value, (rowFields[index] as Field).type))],
        tag: "SELECT 1",
      };
    }
    const where = select.where ?? undefined;
    const scanned = await table.scan(context, scanHints(where, base), signal);
    if (signal.aborted)
      throw new PgError(SQLSTATE.queryCanceled, "canceling statement due to user request");
    const rows =
      where === undefined
        ? scanned
        : scanned.filter((row) => evaluate(where, { ...base, row }) === true);
    type Output = { readonly values: SqlValue[]; readonly scope: EvalScope };
    let outputs: Output[];
    if (grouped) {
      const groupExpr = groupBy[0];
      const groups = new Map<string, Row[]>();
      if (groupExpr === undefined) groups.set("", rows);
      else {
        const key = (row: Row) => {
          const value =
            groupExpr.type === "integer"
              ? evaluateOutput(groupExpr.value - 1, row)
              : evaluate(groupExpr, { ...base, row });
          return JSON.stringify(value instanceof Date ? value.getTime() : value);
        };
        for (const row of rows) {
          const groupKey = key(row);
          const members = groups.get(groupKey);
          if (members) members.push(row);
          else groups.set(groupKey, [row]);
        }
      }
      outputs = [...groups.values()].map((members) => {
        const scope: EvalScope = { ...base, row: members[0] ?? {}, group: members };
        return {
          scope,
          values: columns.map((column) =>
            column.expr === undefined
              ? (scope.row?.[column.column as string] ?? null)
              : evaluate(column.expr, scope),
          ),
        };
      });
    } else {
      outputs = rows.map((row) => {
        const scope: EvalScope = { ...base, row };
        return {
          scope,
          values: columns.map((column) =>
            column.expr === undefined
              ? (row[column.column as string] ?? null)
              : evaluate(column.expr, scope),
          ),
        };
      });
    }
    function evaluateOutput(index: number, row: Row): SqlValue {
      const column = columns[index];
      if (column === undefined)
        throw new PgError(
          SQLSTATE.undefinedColumn,
          `GROUP BY position ${index + 1} is not in select list`,
        );
      return column.expr === undefined
        ? (row[column.column as string] ?? null)
        : evaluate(column.expr, { ...base, row });
    }
    const orderBy = select.orderBy ?? [];
    if (orderBy.length > 0) {
      const keyed = outputs.map((output) => ({
        output,
        keys: orderBy.map((order) => {
          const by = order.by;
          if (by.type === "integer") {
            const value = output.values[by.value - 1];
            if (value === undefined)
              throw new PgError(
                SQLSTATE.undefinedColumn,
                `ORDER BY position ${by.value} is not in select list`,
              );
            return value;
          }
          if (by.type === "ref") {
            const index = columns.findIndex((column) => column.name === by.name);
            if (
              index >= 0 &&
              !(
                table?.columns.some((column) => column.name === by.name) &&
                columns[index]?.column === undefined &&
                columns[index]?.expr?.type !== "ref"
              )
            ) {
              return output.values[index] ?? null;
            }
          }
          return evaluate(by, output.scope);
        }),
      }));
      keyed.sort((a, b) => {
        for (const [index, order] of orderBy.entries()) {
          const left = a.keys[index] ?? null;
          const right = b.keys[index] ?? null;
          const descending = order.order === "DESC";
          const nullsFirst = order.nulls === undefined ? descending : order.nulls === "FIRST";
          if (left === null || right === null) {
            if (left === right) continue;
            return (left === null) === nullsFirst ? -1 : 1;
          }
          const compared = compareValues(left, right);
          if (compared !== 0) return descending ? -compared : compared;
        }
        return 0;
      });
      outputs = keyed.map((entry) => entry.output);
    }
    const offset = limitValue(select.limit?.offset, base, "OFFSET") ?? 0;
    const limit = limitValue(select.limit?.limit, base, "LIMIT");
    outputs = outputs.slice(offset, limit === undefined ? undefined : offset + limit);
    return {
      fields,
      rows: outputs.map((output) =>
        output.values.map((value, index) => formatValue(value, (fields[index] as Field).type)),
      ),
      tag: `SELECT ${outputs.length}`,
    };
  };
  return { fields, paramCount, run };
}
