export {
  auditTarget,
  commandScope,
  holds,
  type ProtocolAuditEntry,
  type ProtocolPrincipal,
  type RespAccess,
} from "./access.js";
export { COMMAND_SPECS, type CommandSpec } from "./command-specs.js";
export { globMatch } from "./glob-match.js";
export {
  defineRespKeyActor,
  RESP_KEY_TYPE,
  RespKey,
  type RespKeyActor,
  type RespKeyActorOptions,
} from "./key-actor.js";
export type { KeyCommand, KeyCommandResult } from "./key-command.js";
export { executeKeyCommand, KEY_COMMANDS } from "./key-command-table.js";
export type { KeyState } from "./key-state.js";
export { RESP_PUBSUB_CHANNEL } from "./pubsub-hub.js";
export type { Reply } from "./reply.js";
export { encodeReply, type RespVersion } from "./reply-writer.js";
export {
  createRespParser,
  DEFAULT_PARSER_LIMITS,
  RespBinaryArgument,
  type RespParser,
  type RespParserLimits,
  RespProtocolError,
  type RespRequest,
} from "./resp-parser.js";
export { createRespServer, type RespServer, type RespServerOptions } from "./server.js";
export type { RespServerStats, SendEvent } from "./server-context.js";
