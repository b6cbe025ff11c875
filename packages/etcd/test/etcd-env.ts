// Reaching the test etcd without vitest, so the benchmark can use it too.
import { Etcd3 } from "etcd3";

/** The etcd the tests use: TROUPE_TEST_ETCD_URL, or the local default. */
export const etcdUrl = process.env.TROUPE_TEST_ETCD_URL ?? "etcd://127.0.0.1:2379";

/** The key prefix of one test (ids are [a-z0-9_]). */
export function testPrefix(id: string): string {
  return `troupe-test/${id}/`;
}

/** Deletes every etcd key under `prefix`, on a short-lived client. */
export async function deletePrefix(prefix: string): Promise<void> {
  const host = etcdUrl.replace(/^etcd:\/\//, "http://");
  const client = new Etcd3({ hosts: host.split(","), dialTimeout: 5_000 });
  try {
    await client.delete().prefix(prefix);
  } finally {
    client.close();
  }
}
