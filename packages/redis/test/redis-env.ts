import { afterEach } from "vitest";
import { deleteKeys, testPrefix } from "./redis-admin.js";

export {
  connectOrFail,
  deleteKeys,
  openAdminClient,
  redisUrl,
  testPrefix,
} from "./redis-admin.js";

/**
 * Gives a test file fresh key prefixes (tagged `tag`) and deletes every key under them after each
 * test.
 */
export function useScratchPrefixes(tag: string): () => string {
  let counter = 0;
  const prefixes: string[] = [];
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
  });
  return () => {
    const prefix = testPrefix(`${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`);
    prefixes.push(prefix);
    return prefix;
  };
}
