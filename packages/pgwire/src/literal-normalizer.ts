import type { SqlValue } from "./pg-types.js";

/** A query whose WHERE-clause literals were lifted out as parameters. */
export interface NormalizedQuery {
  /** The text with those literals replaced by `$1`, `$2`, … */
  readonly text: string;
  /** The lifted values, in parameter order (strings stay text, numbers stay numbers). */
  readonly values: SqlValue[];
}

const STOP_WORDS = /^(order|group|limit|offset|returning|having|union|for)\b/i;

/**
 * Lifts the literals of a single statement's WHERE clause into parameters, so queries that
 * differ only in those values (what the simple protocol sends: `… WHERE key = 'c42'`) share one
 * parsed form. Returns undefined when the text is not a plain single statement with a WHERE
 * clause and no parameters, comments or dollar quotes of its own. Literals after a JSON
 * operator (`->`, `->>`, `#>`, `#>>`) stay: they name a field, not a value.
 */
export function normalizeLiterals(sql: string): NormalizedQuery | undefined {
  if (sql.includes("$") || sql.includes("--") || sql.includes("/*")) return undefined;
  const lower = sql.toLowerCase();
  let index = 0;
  let depth = 0;
  let whereAt = -1;
  // Find the top-level WHERE, skipping quoted text.
  while (index < sql.length) {
    const char = sql[index] as string;
    if (char === "'" || char === '"') {
      const end = closingQuote(sql, index);
      if (end < 0) return undefined;
      index = end + 1;
      continue;
    }
    if (char === "(") depth++;
    else if (char === ")") depth--;
    else if (char === ";") {
      if (sql.slice(index + 1).trim() !== "") return undefined;
    } else if (
      depth === 0 &&
      /\bwhere\b/y.test(lower.slice(index, index + 6)) &&
      !/\w/.test(lower[index - 1] ?? " ")
    ) {
      if (/^where\b/.test(lower.slice(index))) {
        whereAt = index + 5;
        break;
      }
    }
    index++;
  }
  if (whereAt < 0) return undefined;
  let out = sql.slice(0, whereAt);
  const values: SqlValue[] = [];
  index = whereAt;
  depth = 0;
  while (index < sql.length) {
    const char = sql[index] as string;
    if (
      depth === 0 &&
      /\s/.test(char) &&
      STOP_WORDS.test(sql.slice(index + 1).trimStart()) &&
      /^\s+\w/.test(sql.slice(index))
    ) {
      out += sql.slice(index);
      break;
    }
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (char === ";" && sql.slice(index + 1).trim() !== "") return undefined;
    if (char === '"') {
      const end = closingQuote(sql, index);
      if (end < 0) return undefined;
      out += sql.slice(index, end + 1);
      index = end + 1;
      continue;
    }
    if (char === "'") {
      const end = closingQuote(sql, index);
      if (end < 0) return undefined;
      const before = out.trimEnd();
      const prefixed = /[A-Za-z0-9_]$/.test(sql.slice(0, index));
      if (prefixed || /(->>?|#>>?)$/.test(before)) {
        out += sql.slice(index, end + 1);
      } else {
        values.push(sql.slice(index + 1, end).replace(/''/g, "'"));
        out += `$${values.length}`;
      }
      index = end + 1;
      continue;
    }
    const number = /^\d+(\.\d+)?(?![\w.])/.exec(sql.slice(index));
    if (number && !/[\w.$]/.test(sql[index - 1] ?? " ")) {
      const before = out.trimEnd();
      if (/(->>?|#>>?)$/.test(before)) out += number[0];
      else {
        values.push(Number(number[0]));
        out += `$${values.length}`;
      }
      index += number[0].length;
      continue;
    }
    out += char;
    index++;
  }
  return values.length === 0 ? undefined : { text: out, values };
}

function closingQuote(sql: string, start: number): number {
  const quote = sql[start];
  let index = start + 1;
  while (index < sql.length) {
    if (sql[index] === quote) {
      if (sql[index + 1] === quote) {
        index += 2;
        continue;
      }
      return index;
    }
    index++;
  }
  return -1;
}
