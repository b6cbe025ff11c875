import { jsonCodec, type Store } from "@troupe/core";
import { createDecisionStore } from "../../src/index.js";

/** Every account's starting balance (Account's initial state). */
export const START = 1_000;

interface StoredAccount {
  value: { balance: number; applied: string[] };
  lock?: { txId: string } | null;
}

/** Every account's committed state and which accounts hold a durable (prepared) lock. */
export async function readBooks(store: Store, accounts: number) {
  const states: { balance: number; applied: readonly string[] }[] = [];
  const locked: number[] = [];
  for (let key = 0; key < accounts; key++) {
    const entry = await store.get(`actors/state/Account/${key}`);
    if (entry === undefined) {
      states.push({ balance: START, applied: [] });
      continue;
    }
    const stored = jsonCodec.decode(entry.value) as StoredAccount;
    states.push(stored.value);
    if (stored.lock) locked.push(key);
  }
  return { states, locked };
}

/** Decision records that say "committed" (a record is deleted once every participant heard). */
export async function committedRecords(store: Store): Promise<string[]> {
  const records = createDecisionStore(store);
  const found: string[] = [];
  for (const entry of await store.list({ prefix: records.prefix })) {
    const parsed = records.parse(entry);
    if (parsed?.record.decision === "committed") found.push(parsed.txId);
  }
  return found;
}

export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  tries = 300,
) {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await read();
    if (done(last)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
