import type { ActorAddress, ActorSystem } from "@troupe/actors";
import { txError } from "../errors.js";
import type { ParticipantLike, Transaction } from "./transaction.js";
import type { RunOptions, Transactions } from "./transactions.js";

/** The address key of a participant: the string itself, the decimal integer, `""` for none. */
function addressKey(key: ParticipantLike["key"] | undefined): string {
  return key === null || key === undefined ? "" : String(key);
}

/** `tx` with `call` refusing the actor whose turn opened the transaction. */
function guarded(tx: Transaction, caller: ActorAddress): Transaction {
  return {
    id: tx.id,
    deadline: tx.deadline,
    call(participant, action, ...args) {
      if (
        participant !== null &&
        typeof participant === "object" &&
        participant.type === caller.type &&
        addressKey(participant.key) === caller.key
      ) {
        return Promise.reject(
          txError(
            "TX_REENTRANT",
            `transaction ${tx.id}: ${caller.type}/${caller.key} opened it with ctx.transaction and cannot take part in it (its turn is waiting for the transaction); change its own state in the turn after ctx.transaction resolved`,
            { txId: tx.id, participant: caller },
          ),
        );
      }
      return tx.call(participant, action, ...args);
    },
  };
}

/** Adds `ctx.transaction` to every turn on `system`, running on `transactions`. */
export function addContextTransaction(system: ActorSystem, transactions: Transactions): void {
  system.extendContext("transaction", ((
    ctx: { readonly address: ActorAddress },
    body: (tx: Transaction) => Promise<unknown>,
    options?: RunOptions,
  ) => {
    if (typeof body !== "function") {
      return Promise.reject(
        txError("INVALID_ARGUMENT", "ctx.transaction: body: expected a function", {
          field: "body",
        }),
      );
    }
    return transactions.run((tx) => body(guarded(tx, ctx.address)), options);
  }) as never);
}
