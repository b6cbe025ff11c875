export { createNatsPubSub, type NatsPubSub, type NatsPubSubOptions } from "./nats-pubsub.js";
export {
  createNatsTransport,
  FROM_HEADER,
  type NatsTransportOptions,
  STATUS_HEADER,
} from "./nats-transport.js";
export { channelSubject, decodeSubjectToken, encodeSubjectToken, nodeSubject } from "./subjects.js";
