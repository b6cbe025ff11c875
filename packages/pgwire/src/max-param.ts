/** The highest parameter number (`$n`) a parsed statement uses. */
export function maxParam(value: unknown): number {
  let max = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
    } else if (node !== null && typeof node === "object") {
      const record = node as { type?: unknown; name?: unknown };
      if (record.type === "parameter" && typeof record.name === "string") {
        max = Math.max(max, Number(record.name.slice(1)));
      }
      for (const child of Object.values(node)) visit(child);
    }
  };
  visit(value);
  return max;
}
