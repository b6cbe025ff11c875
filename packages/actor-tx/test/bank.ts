import { TroupeError } from "@troupe/core";
import { z } from "zod";
import { defineTxActor } from "../src/index.js";

/** The bank every transaction test and bench uses: accounts that record the transfers they saw. */
export const Account = defineTxActor({
  name: "Account",
  key: "integer",
  state: z.object({ balance: z.number().int(), applied: z.array(z.string()) }),
  initialState: () => ({ balance: 1_000, applied: [] as string[] }),
  actions: {
    balance: { readOnly: true, handler: (ctx): number => ctx.state.balance },
    applied: { readOnly: true, handler: (ctx): readonly string[] => ctx.state.applied },
    touch(ctx) {
      ctx.state.applied = [...ctx.state.applied];
    },
  },
  transactional: {
    withdraw(ctx, transferId: string, amount: number): number {
      if (ctx.state.balance < amount) {
        throw new TroupeError("INSUFFICIENT_FUNDS", `balance ${ctx.state.balance} < ${amount}`);
      }
      ctx.state.balance -= amount;
      ctx.state.applied.push(`-${transferId}`);
      return ctx.state.balance;
    },
    deposit(ctx, transferId: string, amount: number): number {
      ctx.state.balance += amount;
      ctx.state.applied.push(`+${transferId}`);
      return ctx.state.balance;
    },
  },
});

/** A transfer as the tests plan it. */
export interface Transfer {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly amount: number;
}

/** `count` transfers between distinct random accounts of `accounts`, from a seeded generator. */
export function planTransfers(count: number, accounts: number, seed: number): Transfer[] {
  let s = seed >>> 0;
  const next = () => {
    // mulberry32: small, seeded, good enough to spread transfers.
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const plan: Transfer[] = [];
  for (let i = 0; i < count; i++) {
    const from = Math.floor(next() * accounts);
    const to = (from + 1 + Math.floor(next() * (accounts - 1))) % accounts;
    plan.push({ id: `t${i}`, from, to, amount: 1 + Math.floor(next() * 50) });
  }
  return plan;
}

/**
 * Checks the bank's books from every account's state: the total is unchanged, no transfer is
 * half-applied (its debit and credit appear together or not at all), each at most once, and
 * every acknowledged transfer exactly once. Returns the ids found applied.
 */
export function auditBooks(
  states: readonly { balance: number; applied: readonly string[] }[],
  expectedTotal: number,
  acked: ReadonlySet<string>,
): { total: number; applied: Set<string>; problems: string[] } {
  const problems: string[] = [];
  const debits = new Map<string, number>();
  const credits = new Map<string, number>();
  let total = 0;
  for (const state of states) {
    total += state.balance;
    for (const entry of state.applied) {
      const map = entry.startsWith("-") ? debits : credits;
      const id = entry.slice(1);
      map.set(id, (map.get(id) ?? 0) + 1);
    }
  }
  if (total !== expectedTotal) problems.push(`total ${total} != ${expectedTotal}`);
  const applied = new Set<string>();
  for (const id of new Set([...debits.keys(), ...credits.keys()])) {
    const d = debits.get(id) ?? 0;
    const c = credits.get(id) ?? 0;
    if (d !== 1 || c !== 1) problems.push(`${id}: ${d} debits, ${c} credits`);
    else applied.add(id);
  }
  for (const id of acked) if (!applied.has(id)) problems.push(`${id} acknowledged, not applied`);
  return { total, applied, problems };
}
