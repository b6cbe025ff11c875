import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * The protobuf messages of the Inngest Connect protocol that Troupe reads or writes, described
 * as field tables (numbers and types are the protocol's; the SDK ships generated code but no
 * `.proto` files) and coded with `@bufbuild/protobuf`'s wire reader and writer. Fields Troupe
 * does not use are skipped when read.
 */
type Scalar = "string" | "bytes" | "int32" | "uint32" | "bool" | "int64";

interface FieldSpec {
  readonly no: number;
  readonly name: string;
  readonly type: Scalar | "message";
  readonly repeated?: boolean;
  readonly message?: MessageSpec;
}

/** A message's fields. */
export type MessageSpec = readonly FieldSpec[];

const s = (no: number, name: string): FieldSpec => ({ no, name, type: "string" });
const b = (no: number, name: string): FieldSpec => ({ no, name, type: "bytes" });

/** The envelope of every frame on the socket. */
export const ConnectMessage: MessageSpec = [
  { no: 1, name: "kind", type: "int32" },
  b(2, "payload"),
];
export const StartRequest: MessageSpec = [
  { no: 1, name: "excludeGateways", type: "string", repeated: true },
];
export const StartResponse: MessageSpec = [
  s(1, "connectionId"),
  s(2, "gatewayEndpoint"),
  s(3, "gatewayGroup"),
  s(4, "sessionToken"),
  s(5, "syncToken"),
];
const AuthData: MessageSpec = [s(1, "sessionToken"), s(2, "syncToken")];
const AppConfiguration: MessageSpec = [s(1, "appName"), s(2, "appVersion"), b(4, "functions")];
export const WorkerConnectRequestData: MessageSpec = [
  s(1, "connectionId"),
  s(2, "instanceId"),
  { no: 3, name: "authData", type: "message", message: AuthData },
  b(4, "capabilities"),
  { no: 5, name: "apps", type: "message", repeated: true, message: AppConfiguration },
  { no: 6, name: "workerManualReadinessAck", type: "bool" },
  s(8, "environment"),
  s(9, "framework"),
  s(11, "sdkVersion"),
  s(12, "sdkLanguage"),
  { no: 14, name: "maxWorkerConcurrency", type: "int64" },
];
export const GatewayConnectionReadyData: MessageSpec = [
  s(1, "heartbeatInterval"),
  s(2, "extendLeaseInterval"),
  s(3, "statusInterval"),
];
export const GatewayExecutorRequestData: MessageSpec = [
  s(1, "requestId"),
  s(2, "accountId"),
  s(3, "envId"),
  s(4, "appId"),
  s(5, "appName"),
  s(6, "functionId"),
  s(7, "functionSlug"),
  s(8, "stepId"),
  b(9, "requestPayload"),
  b(10, "systemTraceCtx"),
  b(11, "userTraceCtx"),
  s(12, "runId"),
  s(13, "leaseId"),
  s(14, "jobId"),
];
export const WorkerRequestExtendLeaseData: MessageSpec = [
  s(1, "requestId"),
  s(5, "functionSlug"),
  s(9, "runId"),
  s(10, "leaseId"),
];
export const WorkerRequestExtendLeaseAckData: MessageSpec = [
  s(1, "requestId"),
  s(5, "functionSlug"),
  s(6, "newLeaseId"),
];
export const SDKResponse: MessageSpec = [
  s(1, "requestId"),
  s(4, "appId"),
  { no: 5, name: "status", type: "int32" },
  b(6, "body"),
  { no: 7, name: "noRetry", type: "bool" },
  s(8, "retryAfter"),
  s(9, "sdkVersion"),
  { no: 10, name: "requestVersion", type: "uint32" },
  s(13, "runId"),
];
export const WorkerRequestAckData: MessageSpec = [s(1, "requestId")];
export const WorkerReplyAckData: MessageSpec = [s(1, "requestId")];
export const FlushResponse: MessageSpec = [s(1, "requestId")];

/** `ConnectMessage.kind`. */
export const MessageKind = {
  GATEWAY_HELLO: 0,
  WORKER_CONNECT: 1,
  GATEWAY_CONNECTION_READY: 2,
  GATEWAY_EXECUTOR_REQUEST: 3,
  WORKER_READY: 4,
  WORKER_REQUEST_ACK: 5,
  WORKER_REPLY: 6,
  WORKER_REPLY_ACK: 7,
  WORKER_PAUSE: 8,
  WORKER_HEARTBEAT: 9,
  GATEWAY_HEARTBEAT: 10,
  GATEWAY_CLOSING: 11,
  WORKER_REQUEST_EXTEND_LEASE: 12,
  WORKER_REQUEST_EXTEND_LEASE_ACK: 13,
  SYNC_FAILED: 14,
  WORKER_STATUS: 15,
} as const;

/** `SDKResponse.status`. */
export const SdkResponseStatus = { NOT_COMPLETED: 0, DONE: 1, ERROR: 2 } as const;

/** A decoded message: field name → value (repeated fields as arrays, absent fields missing). */
export type Decoded = Record<string, unknown>;

function writeScalar(writer: BinaryWriter, field: FieldSpec, value: unknown): void {
  switch (field.type) {
    case "string":
      writer.tag(field.no, WireType.LengthDelimited).string(String(value));
      return;
    case "bytes":
      writer.tag(field.no, WireType.LengthDelimited).bytes(value as Uint8Array);
      return;
    case "int32":
      writer.tag(field.no, WireType.Varint).int32(Number(value));
      return;
    case "uint32":
      writer.tag(field.no, WireType.Varint).uint32(Number(value));
      return;
    case "int64":
      writer.tag(field.no, WireType.Varint).int64(Number(value));
      return;
    case "bool":
      writer.tag(field.no, WireType.Varint).bool(Boolean(value));
      return;
    case "message":
      writer
        .tag(field.no, WireType.LengthDelimited)
        .bytes(encodeMessage(field.message ?? [], value as Decoded));
  }
}

/** Encodes `value` by `spec`; proto3 defaults (empty, zero, false) are left out. */
export function encodeMessage(spec: MessageSpec, value: Decoded): Uint8Array {
  const writer = new BinaryWriter();
  for (const field of spec) {
    const raw = value[field.name];
    if (raw === undefined || raw === null) continue;
    const values = field.repeated ? (raw as unknown[]) : [raw];
    for (const one of values) {
      const isDefault =
        !field.repeated &&
        (one === "" ||
          one === 0 ||
          one === false ||
          (one instanceof Uint8Array && one.length === 0));
      if (isDefault && field.type !== "message") continue;
      writeScalar(writer, field, one);
    }
  }
  return writer.finish();
}

function readScalar(reader: BinaryReader, field: FieldSpec): unknown {
  switch (field.type) {
    case "string":
      return reader.string();
    case "bytes":
      return reader.bytes();
    case "int32":
      return reader.int32();
    case "uint32":
      return reader.uint32();
    case "int64":
      return Number(reader.int64());
    case "bool":
      return reader.bool();
    case "message":
      return decodeMessage(field.message ?? [], reader.bytes());
  }
}

/** Decodes `bytes` by `spec`; unknown fields are skipped. Throws on malformed input. */
export function decodeMessage(spec: MessageSpec, bytes: Uint8Array): Decoded {
  const reader = new BinaryReader(bytes);
  const result: Decoded = {};
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const field = spec.find((candidate) => candidate.no === no);
    if (!field) {
      reader.skip(wireType);
      continue;
    }
    const value = readScalar(reader, field);
    if (field.repeated) {
      const list = (result[field.name] as unknown[] | undefined) ?? [];
      list.push(value);
      result[field.name] = list;
    } else {
      result[field.name] = value;
    }
  }
  return result;
}
