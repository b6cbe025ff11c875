import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh directory under the OS temp dir, and a way to remove it (with the SQLite files). */
export function createTempDir(label: string): { readonly dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `troupe-sqlite-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
