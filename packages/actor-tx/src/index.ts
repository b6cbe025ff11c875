import type { Transaction } from "./tx/transaction.js";
import type { RunOptions } from "./tx/transactions.js";

// Here, in the entry file, so that the bundled type declarations keep it.
declare module "@troupe/actors" {
  interface ActorContextExtensions {
    /**
     * Runs `body` as one transaction across actors from inside this turn and returns its result
     * once it committed (as `Transactions.run`). Present once `createTransactions({ system })`
     * ran for this actor system. The calling actor cannot take part: its turn is the one
     * waiting for the transaction, so `tx.call` on it fails at once with `TX_REENTRANT`.
     */
    transaction<R>(body: (tx: Transaction) => Promise<R>, options?: RunOptions): Promise<R>;
  }
}

export { type ActorTxErrorCode, txError } from "./errors.js";
export {
  FREE,
  type GrantResult,
  type LockHolder,
  type LockMode,
  type LockRecord,
  liveHolders,
  releaseLock,
  renewLock,
  requestLock,
} from "./locks/lock-record.js";
export {
  type AcquireOptions,
  createLockService,
  type LockHandle,
  type LockService,
  type LockServiceOptions,
} from "./locks/lock-service.js";
export { type Deadlock, describeCycle, findDeadlock, type Waiter } from "./locks/wait-graph.js";
export {
  defineSaga,
  SAGA_COMPENSATION_FAILED,
  type SagaCompensationContext,
  SagaCompensationFailedError,
  type SagaOptions,
  type SagaResult,
  type SagaStep,
  type SagaStepContext,
} from "./saga/define-saga.js";
export { type SagaMetrics, sagaMetrics } from "./saga/saga-metrics.js";
export {
  retrySagaCompensation,
  type SagaOutcome,
  sagaOutcome,
  startSaga,
  waitForSaga,
} from "./saga/saga-runs.js";
export {
  advanceCoordinator,
  beginCoordinator,
  type CoordinatorEffect,
  type CoordinatorEvent,
  type CoordinatorPhase,
  type CoordinatorState,
} from "./tx/coordinator-state.js";
export { createDecisionLog, DECISION_LOG_TYPE, type DecisionLog } from "./tx/decision-log.js";
export type { DecisionRecord, ParticipantRef } from "./tx/decision-state.js";
export { createDecisionStore, type DecisionStore } from "./tx/decision-store.js";
export type { PreparedLock, TxState } from "./tx/participant-state.js";
export type {
  ParticipantLike,
  Transaction,
  TransactionFaults,
} from "./tx/transaction.js";
export {
  createTransactions,
  type RunOptions,
  type Transactions,
  type TransactionsOptions,
} from "./tx/transactions.js";
export {
  defineTxActor,
  TX_ACTIONS,
  type TxActionSpec,
  type TxActorSpec,
} from "./tx/tx-actor.js";
