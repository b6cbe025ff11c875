import { createMemoryStore, noopLogger, systemClock, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { txError } from "../errors.js";
import type { ParticipantRef } from "./decision-state.js";
import { createDecisionStore } from "./decision-store.js";
import { runTransaction, type Transaction, type TransactionDeps } from "./transaction.js";

/** Deps whose remote calls are answered by `answer` and recorded. */
function fakeDeps(answer: (ref: ParticipantRef, action: string) => unknown, conflictWaitMs = 0) {
  const calls: string[] = [];
  const deps: TransactionDeps = {
    clock: systemClock,
    logger: noopLogger,
    nextId: () => "t1",
    random: () => 0.5,
    conflictWaitMs,
    typeKind: () => "transactional",
    async call(ref, action) {
      calls.push(`${action} ${ref.key}`);
      return answer(ref, action);
    },
    records: createDecisionStore(createMemoryStore()),
    home: () => undefined,
    faults: undefined,
    counters: { started() {}, committed() {}, aborted() {}, busyRetry() {} },
  };
  return { deps, calls };
}

/** The body of every case but one: take 1 from account a, then give it to account b. */
const transferAtoB = async (tx: Transaction) => {
  await tx.call({ type: "Account", key: "a" }, "withdraw", 1);
  await tx.call({ type: "Account", key: "b" }, "deposit", 1);
};

const held = () =>
  txError("TX_CONFLICT", "Account/b is held by the older transaction t0", { holder: "t0" });

describe("a step refused by an older holder, and aborting", () => {
  it("tells only the participants that may hold it: one that refused (held by an older transaction) is not told", async () => {
    const { deps, calls } = fakeDeps((ref, action) => {
      if (action === "txPrepare" && ref.key === "b") throw held();
      return undefined;
    });
    const run = runTransaction(deps, transferAtoB, 1_000);
    await expect(run).rejects.toSatisfy((e) => TroupeError.isInstance(e, "TX_CONFLICT"));
    expect(calls).toEqual(["txPrepare a", "txPrepare b", "txAbort a"]);
  });

  it("still tells a participant whose prepare failed otherwise (it may have prepared)", async () => {
    const { deps, calls } = fakeDeps((ref, action) => {
      if (action === "txPrepare" && ref.key === "b") {
        throw new TroupeError("TIMEOUT", "no answer in time");
      }
      return undefined;
    });
    const run = runTransaction(deps, transferAtoB, 1_000);
    await expect(run).rejects.toThrow("no answer in time");
    expect(calls.slice(2).sort()).toEqual(["txAbort a", "txAbort b"]);
  });

  it("sends no abort at all when the first step is refused", async () => {
    const { deps, calls } = fakeDeps(() => {
      throw held();
    });
    const run = runTransaction(
      deps,
      async (tx) => {
        await tx.call({ type: "Account", key: "b" }, "withdraw", 1);
      },
      1_000,
    );
    await expect(run).rejects.toSatisfy((e) => TroupeError.isInstance(e, "TX_CONFLICT"));
    expect(calls).toEqual(["txPrepare b"]);
  });

  it("asks an older holder again for up to conflictWaitMs instead of dying at once", async () => {
    let refusals = 0;
    const { deps, calls } = fakeDeps((ref, action) => {
      if (action === "txPrepare" && ref.key === "b" && refusals++ < 2) throw held();
      return undefined;
    }, 60_000);
    await runTransaction(deps, transferAtoB, 60_000);
    expect(calls.slice(0, 4)).toEqual(["txPrepare a", "txPrepare b", "txPrepare b", "txPrepare b"]);
    expect(calls.slice(4).sort()).toEqual(["txCommit a", "txCommit b"]);
  });

  it("dies with TX_CONFLICT once the wait is over, long before the deadline (a cycle breaks)", async () => {
    const { deps, calls } = fakeDeps((ref, action) => {
      if (action === "txPrepare" && ref.key === "b") throw held();
      return undefined;
    }, 5);
    const run = runTransaction(deps, transferAtoB, 60_000);
    await expect(run).rejects.toSatisfy((e) => TroupeError.isInstance(e, "TX_CONFLICT"));
    expect(calls.filter((c) => c === "txPrepare b").length).toBeGreaterThan(1);
    expect(calls.at(-1)).toBe("txAbort a");
  });
});
