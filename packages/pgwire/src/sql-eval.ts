import type { Expr } from "pgsql-ast-parser";
import { PgError, SQLSTATE, unsupported } from "./pg-error.js";
import type { PgTypeName, SqlValue } from "./pg-types.js";
import type { Row, VirtualTable } from "./virtual-tables.js";

/** What an expression is evaluated against. */
export interface EvalScope {
  /** The current row (undefined for a SELECT without FROM). */
  readonly row: Row | undefined;
  /** The rows of the current group, when aggregates are allowed. */
  readonly group?: readonly Row[] | undefined;
  /** Bound parameters, `$1` first. */
  readonly params: readonly SqlValue[];
  /** The time, for `now()`. */
  readonly now: number;
  /** The table, to check column names. */
  readonly table: VirtualTable | undefined;
}

const AGGREGATES = new Set(["count", "sum", "min", "max", "avg"]);

/** True when the expression contains an aggregate call. */
export function hasAggregate(expr: Expr): boolean {
  if (expr.type === "call") {
    if (AGGREGATES.has(expr.function.name.toLowerCase())) return true;
    return expr.args.some(hasAggregate);
  }
  if (expr.type === "binary") return hasAggregate(expr.left) || hasAggregate(expr.right);
  if (expr.type === "unary") return hasAggregate(expr.operand);
  if (expr.type === "cast") return hasAggregate(expr.operand);
  if (expr.type === "member") return hasAggregate(expr.operand);
  return false;
}

function columnValue(scope: EvalScope, name: string): SqlValue {
  const row = scope.row;
  if (row === undefined || !(name in row)) {
    throw new PgError(SQLSTATE.undefinedColumn, `column "${name}" does not exist`);
  }
  return row[name] ?? null;
}

function toNumber(value: SqlValue): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) {
    return Number(value);
  }
  if (value instanceof Date) return value.getTime();
  return undefined;
}

/** Compares two non-null values as PostgreSQL would after coercing the untyped side. */
export function compareValues(left: SqlValue, right: SqlValue): number {
  if (left instanceof Date || right instanceof Date) {
    const a = left instanceof Date ? left.getTime() : Date.parse(String(left));
    const b = right instanceof Date ? right.getTime() : Date.parse(String(right));
    if (Number.isNaN(a) || Number.isNaN(b)) {
      throw new PgError(
        SQLSTATE.invalidTextRepresentation,
        "invalid input syntax for type timestamp",
      );
    }
    return a - b;
  }
  if (
    typeof left === "number" ||
    typeof right === "number" ||
    typeof left === "bigint" ||
    typeof right === "bigint"
  ) {
    const a = toNumber(left);
    const b = toNumber(right);
    if (a === undefined || b === undefined) {
      throw new PgError(
        SQLSTATE.invalidTextRepresentation,
        `invalid input syntax for type numeric: "${String(typeof left === "number" ? right : left)}"`,
      );
    }
    return a - b;
  }
  if (typeof left === "boolean" || typeof right === "boolean") {
    return Number(asBoolean(left)) - Number(asBoolean(right));
  }
  const a = typeof left === "object" ? JSON.stringify(left) : String(left);
  const b = typeof right === "object" ? JSON.stringify(right) : String(right);
  return a < b ? -1 : a > b ? 1 : 0;
}

function asBoolean(value: SqlValue): boolean {
  if (typeof value === "boolean") return value;
  if (value === "t" || value === "true") return true;
  if (value === "f" || value === "false") return false;
  throw new PgError(SQLSTATE.datatypeMismatch, `argument must be boolean, got ${String(value)}`);
}

/** SQL LIKE (`%`, `_`, `\` escapes) as a regular expression. */
export function likePattern(pattern: string, caseInsensitive: boolean): RegExp {
  let source = "";
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index] as string;
    if (char === "\\" && index + 1 < pattern.length) {
      source += (pattern[++index] as string).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (char === "%") source += "[\\s\\S]*";
    else if (char === "_") source += "[\\s\\S]";
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "i" : "");
}

const likeCache = new Map<string, RegExp>();

function like(value: SqlValue, pattern: SqlValue, caseInsensitive: boolean): boolean | null {
  if (value === null || pattern === null) return null;
  const key = `${caseInsensitive ? "i" : "s"}${String(pattern)}`;
  let regex = likeCache.get(key);
  if (regex === undefined) {
    regex = likePattern(String(pattern), caseInsensitive);
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(key, regex);
  }
  return regex.test(typeof value === "object" ? JSON.stringify(value) : String(value));
}

function jsonMember(operand: SqlValue, member: string | number): unknown {
  let value: unknown = operand;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new PgError(SQLSTATE.invalidTextRepresentation, "invalid input syntax for type json");
    }
  }
  if (value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    if (typeof member !== "number") return null;
    return value[member < 0 ? value.length + member : member] ?? null;
  }
  return Object.hasOwn(value, String(member))
    ? ((value as Record<string, unknown>)[String(member)] ?? null)
    : null;
}

function asJsonText(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function castValue(value: SqlValue, to: string): SqlValue {
  if (value === null) return null;
  switch (to) {
    case "text":
    case "varchar":
    case "name":
    case "regclass":
    case "regtype":
      return typeof value === "object" && !(value instanceof Date)
        ? JSON.stringify(value)
        : String(value);
    case "int":
    case "int4":
    case "int8":
    case "integer":
    case "bigint":
    case "smallint": {
      const number = toNumber(value);
      if (number === undefined || !Number.isFinite(number)) {
        throw new PgError(
          SQLSTATE.invalidTextRepresentation,
          `invalid input syntax for type integer: "${String(value)}"`,
        );
      }
      return Math.trunc(number);
    }
    case "float8":
    case "float":
    case "numeric":
    case "real":
    case "double precision": {
      const number = toNumber(value);
      if (number === undefined) {
        throw new PgError(
          SQLSTATE.invalidTextRepresentation,
          `invalid input syntax for type numeric: "${String(value)}"`,
        );
      }
      return number;
    }
    case "bool":
    case "boolean":
      return asBoolean(value);
    case "json":
    case "jsonb":
      if (typeof value === "string") {
        try {
          return JSON.parse(value) as SqlValue;
        } catch {
          throw new PgError(
            SQLSTATE.invalidTextRepresentation,
            "invalid input syntax for type json",
          );
        }
      }
      return value;
    case "timestamptz":
    case "timestamp": {
      const time = value instanceof Date ? value.getTime() : Date.parse(String(value));
      if (Number.isNaN(time)) {
        throw new PgError(
          SQLSTATE.invalidTextRepresentation,
          `invalid input syntax for type timestamp: "${String(value)}"`,
        );
      }
      return new Date(time);
    }
    default:
      throw unsupported(`the cast to ${to}`);
  }
}

function aggregate(
  name: string,
  expr: Extract<Expr, { type: "call" }>,
  scope: EvalScope,
): SqlValue {
  const group = scope.group;
  if (group === undefined) {
    throw new PgError(SQLSTATE.groupingError, `aggregate function ${name} is not allowed here`);
  }
  const arg = expr.args[0];
  if (name === "count" && (arg === undefined || (arg.type === "ref" && arg.name === "*"))) {
    return group.length;
  }
  if (arg === undefined)
    throw new PgError(SQLSTATE.undefinedFunction, `function ${name}() does not exist`);
  const values = group
    .map((row) => evaluate(arg, { ...scope, row, group: undefined }))
    .filter((value) => value !== null);
  if (name === "count") return values.length;
  if (values.length === 0) return null;
  if (name === "min" || name === "max") {
    let best = values[0] as SqlValue;
    for (const value of values) {
      const order = compareValues(value, best);
      if (name === "min" ? order < 0 : order > 0) best = value;
    }
    return best;
  }
  const numbers = values.map((value) => {
    const number = toNumber(value);
    if (number === undefined)
      throw new PgError(SQLSTATE.datatypeMismatch, `function ${name} needs numbers`);
    return number;
  });
  const sum = numbers.reduce((total, number) => total + number, 0);
  return name === "sum" ? sum : sum / numbers.length;
}

function callFunction(expr: Extract<Expr, { type: "call" }>, scope: EvalScope): SqlValue {
  const name = expr.function.name.toLowerCase();
  const schema = expr.function.schema?.toLowerCase();
  if (AGGREGATES.has(name) && (schema === undefined || schema === "pg_catalog")) {
    return aggregate(name, expr, scope);
  }
  const args = () => expr.args.map((arg) => evaluate(arg, scope));
  switch (name) {
    case "now":
    case "current_timestamp":
      return new Date(scope.now);
    case "version":
      return "PostgreSQL 15.0 (Troupe pgwire)";
    case "current_database":
      return "troupe";
    case "current_schema":
      return "public";
    case "lower":
    case "upper": {
      const [value] = args();
      if (value === null || value === undefined) return null;
      return name === "lower" ? String(value).toLowerCase() : String(value).toUpperCase();
    }
    case "length":
    case "char_length": {
      const [value] = args();
      return value === null || value === undefined ? null : [...String(value)].length;
    }
    case "coalesce":
      return args().find((value) => value !== null) ?? null;
    case "jsonb_typeof":
    case "json_typeof": {
      const [value] = args();
      if (value === null || value === undefined) return null;
      if (Array.isArray(value)) return "array";
      return typeof value === "object"
        ? "object"
        : typeof value === "string"
          ? "string"
          : typeof value === "boolean"
            ? "boolean"
            : "number";
    }
    default:
      throw new PgError(
        SQLSTATE.undefinedFunction,
        `function ${schema ? `${schema}.` : ""}${name}() does not exist or is not supported by Troupe`,
      );
  }
}

function binary(expr: Extract<Expr, { type: "binary" }>, scope: EvalScope): SqlValue {
  const op = expr.op;
  if (op === "AND" || op === "OR") {
    const left = evaluate(expr.left, scope);
    if (op === "AND" && left === false) return false;
    if (op === "OR" && left === true) return true;
    const right = evaluate(expr.right, scope);
    const a = left === null ? null : asBoolean(left);
    const b = right === null ? null : asBoolean(right);
    if (op === "AND")
      return a === false || b === false ? false : a === null || b === null ? null : true;
    return a === true || b === true ? true : a === null || b === null ? null : false;
  }
  if (op === "IN" || op === "NOT IN") {
    const left = evaluate(expr.left, scope);
    if (expr.right.type !== "list") throw unsupported("IN with a subquery");
    if (left === null) return null;
    let found = false;
    let sawNull = false;
    for (const item of expr.right.expressions) {
      const value = evaluate(item, scope);
      if (value === null) sawNull = true;
      else if (compareValues(left, value) === 0) found = true;
    }
    if (found) return op === "IN";
    return sawNull ? null : op === "NOT IN";
  }
  const left = evaluate(expr.left, scope);
  const right = evaluate(expr.right, scope);
  switch (op) {
    case "LIKE":
    case "NOT LIKE":
    case "ILIKE":
    case "NOT ILIKE": {
      const result = like(left, right, op.includes("ILIKE"));
      return result === null ? null : op.startsWith("NOT") ? !result : result;
    }
    case "||":
      if (left === null || right === null) return null;
      return String(left) + String(right);
    default:
      break;
  }
  if (left === null || right === null) return null;
  switch (op) {
    case "=":
      return compareValues(left, right) === 0;
    case "!=":
      return compareValues(left, right) !== 0;
    case "<":
      return compareValues(left, right) < 0;
    case ">":
      return compareValues(left, right) > 0;
    case "<=":
      return compareValues(left, right) <= 0;
    case ">=":
      return compareValues(left, right) >= 0;
    case "+":
    case "-":
    case "*":
    case "/":
    case "%": {
      const a = toNumber(left);
      const b = toNumber(right);
      if (a === undefined || b === undefined)
        throw new PgError(SQLSTATE.datatypeMismatch, `operator ${op} needs numbers`);
      if ((op === "/" || op === "%") && b === 0) throw new PgError("22012", "division by zero");
      const result =
        op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : op === "/" ? a / b : a % b;
      return op === "/" && Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(result) : result;
    }
    default:
      throw unsupported(`the operator ${op}`);
  }
}

/** Evaluates an expression (three-valued: null is unknown). */
export function evaluate(expr: Expr, scope: EvalScope): SqlValue {
  switch (expr.type) {
    case "ref":
      if (expr.name === "*") throw unsupported("* in an expression");
      return columnValue(scope, expr.name);
    case "string":
      return expr.value;
    case "integer":
    case "numeric":
      return expr.value;
    case "boolean":
      return expr.value;
    case "null":
      return null;
    case "parameter": {
      const index = Number(expr.name.slice(1)) - 1;
      if (!(index >= 0 && index < scope.params.length)) {
        throw new PgError(SQLSTATE.invalidParameterValue, `there is no parameter ${expr.name}`);
      }
      return scope.params[index] ?? null;
    }
    case "binary":
      return binary(expr, scope);
    case "unary": {
      const value = evaluate(expr.operand, scope);
      switch (expr.op) {
        case "NOT":
          return value === null ? null : !asBoolean(value);
        case "IS NULL":
          return value === null;
        case "IS NOT NULL":
          return value !== null;
        case "IS TRUE":
          return value === true;
        case "IS NOT TRUE":
          return value !== true;
        case "IS FALSE":
          return value === false;
        case "IS NOT FALSE":
          return value !== false;
        case "-": {
          const number = value === null ? undefined : toNumber(value);
          return number === undefined ? null : -number;
        }
        case "+":
          return value;
        default:
          throw unsupported(`the operator ${(expr as { op: string }).op}`);
      }
    }
    case "member": {
      const operand = evaluate(expr.operand, scope);
      if (operand === null) return null;
      const value = jsonMember(operand, expr.member);
      return expr.op === "->>" ? asJsonText(value) : ((value ?? null) as SqlValue);
    }
    case "cast":
      return castValue(
        evaluate(expr.operand, scope),
        expr.to.kind === "array" ? "array" : expr.to.name.toLowerCase(),
      );
    case "call":
      return callFunction(expr, scope);
    case "keyword":
      if (
        expr.keyword === "current_user" ||
        expr.keyword === "session_user" ||
        expr.keyword === "user"
      )
        return "troupe";
      if (expr.keyword === "current_timestamp") return new Date(scope.now);
      if (expr.keyword === "current_schema") return "public";
      throw unsupported(expr.keyword);
    case "select":
    case "union":
    case "union all":
    case "with":
      throw unsupported("a subquery");
    case "case": {
      const base =
        expr.value === undefined || expr.value === null ? undefined : evaluate(expr.value, scope);
      for (const branch of expr.whens) {
        const test = evaluate(branch.when, scope);
        if (
          base === undefined
            ? test === true
            : base !== null && test !== null && compareValues(base, test) === 0
        ) {
          return evaluate(branch.value, scope);
        }
      }
      return expr.else === undefined || expr.else === null ? null : evaluate(expr.else, scope);
    }
    default:
      throw unsupported(`the expression ${expr.type}`);
  }
}

/** The result type of an expression, known before any row is read (for RowDescription). */
export function inferType(expr: Expr, table: VirtualTable | undefined): PgTypeName {
  switch (expr.type) {
    case "ref":
      return table?.columns.find((column) => column.name === expr.name)?.type ?? "text";
    case "integer":
      return "int4";
    case "numeric":
      return "float8";
    case "boolean":
      return "bool";
    case "member":
      return expr.op === "->>" ? "text" : "jsonb";
    case "binary":
      if (
        [
          "=",
          "<>",
          "!=",
          "<",
          ">",
          "<=",
          ">=",
          "AND",
          "OR",
          "IN",
          "NOT IN",
          "LIKE",
          "NOT LIKE",
          "ILIKE",
          "NOT ILIKE",
        ].includes(expr.op)
      ) {
        return "bool";
      }
      if (["+", "-", "*", "/", "%"].includes(expr.op)) {
        const left = inferType(expr.left, table);
        return left === "float8" || inferType(expr.right, table) === "float8" ? "float8" : "int8";
      }
      return "text";
    case "unary":
      return expr.op === "-" || expr.op === "+" ? inferType(expr.operand, table) : "bool";
    case "cast": {
      const to = expr.to.kind === "array" ? "text" : expr.to.name.toLowerCase();
      if (["int", "int4", "integer", "smallint"].includes(to)) return "int4";
      if (["int8", "bigint"].includes(to)) return "int8";
      if (["float8", "float", "numeric", "real", "double precision"].includes(to)) return "float8";
      if (["bool", "boolean"].includes(to)) return "bool";
      if (["json", "jsonb"].includes(to)) return "jsonb";
      if (["timestamptz", "timestamp"].includes(to)) return "timestamptz";
      return "text";
    }
    case "call": {
      const name = expr.function.name.toLowerCase();
      if (name === "count" || name === "length" || name === "char_length") return "int8";
      if (name === "sum" || name === "avg") return "float8";
      if (name === "min" || name === "max" || name === "coalesce") {
        const arg = expr.args[0];
        return arg === undefined ? "text" : inferType(arg, table);
      }
      if (name === "now") return "timestamptz";
      if (name === "call_actor") return "jsonb";
      return "text";
    }
    default:
      return "text";
  }
}

/** The output name PostgreSQL gives an unaliased column. */
export function defaultColumnName(expr: Expr): string {
  switch (expr.type) {
    case "ref":
      return expr.name;
    case "member":
      return typeof expr.member === "string" ? expr.member : "?column?";
    case "call":
      return expr.function.name.toLowerCase();
    case "cast":
      return expr.operand.type === "ref"
        ? expr.operand.name
        : expr.to.kind === "array"
          ? "array"
          : expr.to.name.toLowerCase();
    default:
      return "?column?";
  }
}
