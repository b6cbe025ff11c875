import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..");
const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

const schemas = scratchSchemas("actors_readme", { from: import.meta.url });
beforeAll(() => schemas.assertReachable());
afterAll(() => schemas.dropAll());

/** Replaces `from` in `text` (which must contain it: the README changed shape otherwise). */
function swap(text: string, from: string, to: string): string {
  expect(text, `the README's cluster example should contain ${from}`).toContain(from);
  return text.replace(from, to);
}

describe("README cluster example", () => {
  it("runs as written against PostgreSQL and NATS (only the servers and schema swapped)", async () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Cluster mode"));
    const match = /```ts\n([\s\S]*?)```/.exec(section);
    expect(match, "a ts block under ## Cluster mode").not.toBeNull();
    const schema = schemas.fresh();
    let code = match?.[1] ?? "";
    code = swap(code, '"postgres://postgres@127.0.0.1:5432/app"', JSON.stringify(postgresUrl));
    code = swap(
      code,
      "createPostgresStore({ connectionString: url })",
      `createPostgresStore({ connectionString: url, schema: ${JSON.stringify(schema)} })`,
    );
    code = swap(
      code,
      'createPostgresQueue({ connectionString: url, queueName: "actors" })',
      `createPostgresQueue({ connectionString: url, schema: ${JSON.stringify(schema)}, queueName: "actors" })`,
    );
    code = swap(
      code,
      'createNatsTransport({ servers: "nats://127.0.0.1:4222" })',
      `createNatsTransport({ servers: ${JSON.stringify(NATS_URL)}, subjectPrefix: ${JSON.stringify(`troupe_test.${schema}`)} })`,
    );
    // Inside the package, so `@troupe/actors` resolves to this package's source.
    const file = join(here, "cluster-support", `readme-example-${process.pid}.ts`);
    writeFileSync(file, code);
    try {
      await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "--conditions=source", file],
        { cwd: packageDir },
      );
    } finally {
      rmSync(file, { force: true });
    }
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    try {
      const saved = await store.get("actors/state/Counter/alice");
      expect(JSON.parse(new TextDecoder().decode(saved?.value))).toEqual({ count: 1 });
      // The node left the cluster and released its claims on close.
      expect(await store.list({ prefix: "actors/n/" })).toEqual([]);
      expect(await store.list({ prefix: "actors/d/" })).toEqual([]);
    } finally {
      await store.close();
    }
  }, 30_000);
});
