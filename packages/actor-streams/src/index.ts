export { eventTooLarge, type StreamErrorCode, streamTrimmed } from "./errors.js";
export type { StreamEvent } from "./event-log.js";
export {
  type ImplicitSubscription,
  implicitSubscription,
  implicitSubscriptionsOf,
} from "./implicit.js";
export type { LagEntry } from "./lag.js";
export {
  parseSeqText,
  type StreamId,
  validateNamespace,
  validateSeq,
  validateStreamId,
  validateStreamKey,
} from "./stream-id.js";
export {
  type ActorSubscription,
  createStreams,
  type Streams,
  type StreamsOptions,
  type SubscribeOptions,
} from "./streams.js";
export type { StreamHandle, StreamHandleJson, StreamHandler } from "./subscription.js";
