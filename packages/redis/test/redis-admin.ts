// Reaching the test Redis without vitest, so the benchmark can use it too.
import { Redis } from "ioredis";
import { troupeRedisOptions } from "../src/connection.js";

/** The Redis the tests use: TROUPE_TEST_REDIS_URL, or the local default. */
export const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** The key prefix of one test (ids are [a-z0-9_], so the prefix is also a safe SCAN pattern). */
export function testPrefix(id: string): string {
  return `troupe-test:${id}:`;
}

/** A plain client for inspecting and cleaning up; fails fast when Redis is unreachable. */
export function openAdminClient(): Redis {
  const client = new Redis(redisUrl, { ...troupeRedisOptions, lazyConnect: true });
  client.on("error", () => {
    // Connection errors surface through the failing command; the event would only add noise.
  });
  return client;
}

/** Connects `client`, failing with a message that names the URL when Redis is unreachable. */
export async function connectOrFail(client: Redis): Promise<void> {
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis is not reachable at ${redisUrl} (set TROUPE_TEST_REDIS_URL): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Deletes every key that starts with `prefix` (SCAN + UNLINK), on a short-lived client. */
export async function deleteKeys(prefix: string): Promise<number> {
  const client = openAdminClient();
  await connectOrFail(client);
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scanBuffer(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next.toString();
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    await client.quit();
  }
  return deleted;
}
