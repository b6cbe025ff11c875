export { type Clock, ManualClock, systemClock, type Timer } from "./clock.js";
export { type Codec, createJsonCodec, fromUtf8, jsonCodec, utf8 } from "./codec.js";
export { type Duration, formatDuration, parseDuration } from "./duration.js";
export {
  closedError,
  type Expectation,
  invalidArgument,
  leaseLost,
  StoreConflictError,
  TroupeError,
  type TroupeErrorCode,
  type TroupeErrorOptions,
} from "./errors.js";
export {
  createIdGenerator,
  type IdGenerator,
  isUlid,
  ulid,
  ulidTime,
  ulidTimePrefix,
} from "./ids.js";
export {
  compareKeys,
  hasLoneSurrogate,
  keySuccessor,
  MAX_KEY_BYTES,
  prefixEnd,
  validateKey,
  validateKeys,
} from "./keys.js";
export { closeListener, type Listener, listenOn } from "./listener.js";
export {
  createConsoleLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  noopLogger,
} from "./logger.js";
export { createMemoryPubSub, type MemoryPubSubOptions } from "./memory/memory-pubsub.js";
export { createMemoryQueue, type MemoryQueueOptions } from "./memory/memory-queue.js";
export { createMemoryStore } from "./memory/memory-store.js";
export { createMemoryTransport, type MemoryTransportOptions } from "./memory/memory-transport.js";
export {
  type Counter,
  createMemoryMetrics,
  type Gauge,
  type Histogram,
  type MemoryMetrics,
  type MetricLabels,
  type MetricOptions,
  type MetricSeries,
  type Metrics,
  noopMetrics,
} from "./metrics.js";
export {
  type FieldPathStyle,
  issueField,
  type ParseWithOptions,
  parseWith,
  zodIssueError,
} from "./parse.js";
export {
  deliverToHandler,
  MAX_CHANNEL_BYTES,
  type MessageHandler,
  type PubSub,
  type Unsubscribe,
  validateChannel,
} from "./pubsub.js";
export {
  type ClaimOptions,
  distinctLeaseRefs,
  type EnqueueItem,
  type EnqueueResult,
  type Lease,
  type LeaseBatchResult,
  type LeaseRef,
  leaseBatchResult,
  leaseOwnerPrefix,
  MAX_LEASE_OWNER_LENGTH,
  MAX_PRIORITY,
  MAX_QUEUE_ID_BYTES,
  MIN_PRIORITY,
  type Queue,
  type QueueCounts,
  type QueueItem,
  type RetryOptions,
  validateClaimOptions,
  validateEnqueueItems,
  validateLeaseMs,
  validateLeaseOwner,
  validateLeaseRef,
  validateQueueText,
  validateRetryOptions,
} from "./queue.js";
export { ackManyOneByOne, retryManyOneByOne } from "./queue-batch-fallback.js";
export {
  isStorePairedQueue,
  type PairedCommit,
  type PairedCommitOptions,
  type PairedCommitResult,
  type StorePairedQueue,
  storePairing,
  validatePairedCommitOptions,
} from "./queue-store-pairing.js";
export { secretEquals, secretIn } from "./secret-compare.js";
export {
  type CheckOp,
  type CommitResult,
  type DeleteOp,
  type KeyRange,
  keyInRange,
  type ListOptions,
  listRanges,
  resolveListRange,
  resolveListRanges,
  type SetOp,
  type Store,
  type StoreEntry,
  type StoreOp,
  type Version,
  validateCommit,
} from "./store.js";
export {
  type RequestHandler,
  type RequestOptions,
  type Transport,
  validateNodeId,
} from "./transport.js";
export { createWakeSignal, type WakeOutcome, type WakeSignal } from "./wake-signal.js";
export { type Corkable, holdWritesForTurn } from "./write-batch.js";
