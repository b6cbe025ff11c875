import { createHash, timingSafeEqual } from "node:crypto";
import { TroupeError } from "@troupe/core";
import { COMMAND_SPECS, commandInfoReply, commandSpec } from "./command-specs.js";
import type { ConnectionState } from "./connection-state.js";
import { renderInfo } from "./info.js";
import { KEY_COMMANDS } from "./key-command-table.js";
import { scanKeys } from "./key-scan.js";
import { parseSafeInt } from "./key-state.js";
import type { PubSubListener } from "./pubsub-hub.js";
import { arityError, isErrorReply, OK, type Reply, SYNTAX_ERROR } from "./reply.js";
import type { RespServerContext } from "./server-context.js";

/** Several replies to one command (SUBSCRIBE answers once per channel). */
export class Several {
  constructor(readonly replies: Reply[]) {}
}

/** A last reply, after which the connection closes (QUIT). */
export class Closing {
  constructor(readonly reply: Reply) {}
}

/** What one command produces. */
export type Outcome = Reply | Several | Closing;

const NOAUTH: Reply = { error: "NOAUTH Authentication required." };
const ALLOWED_WITHOUT_AUTH = new Set(["AUTH", "HELLO", "QUIT", "RESET"]);
const ALLOWED_WHILE_SUBSCRIBED = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "PING",
  "QUIT",
  "RESET",
]);
const TRANSACTION_CONTROL = new Set(["EXEC", "DISCARD", "MULTI", "WATCH", "QUIT", "RESET"]);
const MAX_CURSORS = 10_000;

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Compares a presented token with the accepted one in constant time. */
export function tokenMatches(context: RespServerContext, token: string): boolean {
  return context.tokenDigest === undefined || timingSafeEqual(context.tokenDigest, digest(token));
}

/** An error from a key's actor or another port, as a Redis error line. */
export function failureReply(error: unknown): Reply {
  if (TroupeError.isInstance(error)) return { error: `ERR ${error.code}: ${error.message}` };
  return { error: `ERR ${error instanceof Error ? error.message : String(error)}` };
}

/** Runs a one-key command on the key's actor. */
export function runKeyCommand(
  context: RespServerContext,
  name: string,
  key: string,
  args: string[],
): Reply | Promise<Reply> {
  const command = KEY_COMMANDS.get(name);
  if (command === undefined) return { error: `ERR unknown command '${name}'` };
  try {
    const ref = context.system.get(context.keyActor, key);
    const call = command.readOnly ? ref.read(name, args) : ref.run(name, args);
    return call.catch(failureReply);
  } catch (error) {
    return failureReply(error);
  }
}

async function sumOverKeys(context: RespServerContext, name: string, keys: string[]) {
  const replies = await Promise.all(keys.map((key) => runKeyCommand(context, name, key, [])));
  let total = 0;
  for (const reply of replies) {
    if (isErrorReply(reply)) return reply;
    total += reply as number;
  }
  return total;
}

function pubsubReply(kind: string, name: Reply, count: Reply): Reply {
  return { push: [kind, name, count] };
}

async function subscribe(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
  kind: "channel" | "pattern",
  names: string[],
): Promise<Outcome> {
  const hub = context.hub;
  if (hub === undefined) return { error: "ERR pub/sub is not enabled on this server" };
  const replies: Reply[] = [];
  const table = kind === "channel" ? state.channels : state.patterns;
  for (const name of names) {
    if (!table.has(name)) {
      table.add(name);
      await hub.add(kind, name, listener);
    }
    replies.push(
      pubsubReply(
        kind === "channel" ? "subscribe" : "psubscribe",
        name,
        state.channels.size + state.patterns.size,
      ),
    );
  }
  return new Several(replies);
}

function unsubscribe(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
  kind: "channel" | "pattern",
  names: string[],
): Outcome {
  const table = kind === "channel" ? state.channels : state.patterns;
  const label = kind === "channel" ? "unsubscribe" : "punsubscribe";
  const targets = names.length > 0 ? names : [...table];
  if (targets.length === 0) {
    return new Several([pubsubReply(label, null, state.channels.size + state.patterns.size)]);
  }
  const replies: Reply[] = [];
  for (const name of targets) {
    if (table.delete(name)) context.hub?.remove(kind, name, listener);
    replies.push(pubsubReply(label, name, state.channels.size + state.patterns.size));
  }
  return new Several(replies);
}

/** Drops every subscription of a connection (on close and RESET). */
export function unsubscribeAll(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
): void {
  for (const name of state.channels) context.hub?.remove("channel", name, listener);
  for (const name of state.patterns) context.hub?.remove("pattern", name, listener);
  state.channels.clear();
  state.patterns.clear();
}

function hello(context: RespServerContext, state: ConnectionState, args: string[]): Reply {
  let version = state.protocol;
  if (args.length > 1) {
    const requested = parseSafeInt(args[1] as string);
    if (requested === undefined) {
      return { error: "ERR Protocol version is not an integer or out of range" };
    }
    if (requested !== 2 && requested !== 3)
      return { error: "NOPROTO unsupported protocol version" };
    version = requested;
  }
  let authenticated = state.authenticated;
  let name = state.name;
  for (let index = 2; index < args.length; index++) {
    const option = (args[index] as string).toUpperCase();
    if (option === "AUTH" && index + 2 < args.length) {
      if (!tokenMatches(context, args[index + 2] as string)) {
        return { error: "WRONGPASS invalid username-password pair or user is disabled." };
      }
      authenticated = true;
      index += 2;
    } else if (option === "SETNAME" && index + 1 < args.length) {
      name = args[++index];
    } else return { error: `ERR Syntax error in HELLO option '${args[index]}'` };
  }
  if (!authenticated) {
    return {
      error:
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    };
  }
  state.authenticated = true;
  state.protocol = version;
  state.name = name;
  return {
    map: [
      "server",
      "troupe",
      "version",
      "7.2.0",
      "proto",
      version,
      "id",
      state.id,
      "mode",
      "standalone",
      "role",
      "master",
      "modules",
      [],
    ],
  };
}

function client(state: ConnectionState, args: string[]): Reply {
  const sub = (args[1] ?? "").toUpperCase();
  switch (sub) {
    case "SETNAME": {
      const name = args[2];
      if (name === undefined || args.length !== 3) return arityError("client|setname");
      if (/\s/.test(name)) {
        return { error: "ERR Client names cannot contain spaces, newlines or special characters." };
      }
      state.name = name === "" ? undefined : name;
      return OK;
    }
    case "GETNAME":
      return state.name ?? null;
    case "ID":
      return state.id;
    case "SETINFO":
    case "NO-EVICT":
    case "NO-TOUCH":
      return OK;
    case "INFO":
      return `id=${state.id} addr=${state.address} name=${state.name ?? ""} db=0 resp=${state.protocol}\n`;
    default:
      return { error: `ERR unknown subcommand '${args[1] ?? ""}'. Try CLIENT HELP.` };
  }
}

async function scan(context: RespServerContext, args: string[]): Promise<Reply> {
  const cursorText = args[1] as string;
  let after: string | undefined;
  if (cursorText !== "0") {
    const cursor = parseSafeInt(cursorText);
    after = cursor === undefined ? undefined : context.cursors.get(cursor);
    if (after === undefined) return { error: "ERR invalid cursor" };
  }
  let match: string | undefined;
  let count = 10;
  let type: string | undefined;
  for (let index = 2; index < args.length; index += 2) {
    const option = (args[index] as string).toUpperCase();
    const value = args[index + 1];
    if (value === undefined) return SYNTAX_ERROR;
    if (option === "MATCH") match = value;
    else if (option === "COUNT") {
      const parsed = parseSafeInt(value);
      if (parsed === undefined || parsed < 1) return SYNTAX_ERROR;
      count = Math.min(parsed, 100_000);
    } else if (option === "TYPE") type = value.toLowerCase();
    else return SYNTAX_ERROR;
  }
  const page = await scanKeys({
    store: context.store,
    prefix: context.statePrefix,
    after,
    count,
    match,
    type,
    now: context.clock.now(),
    active: {
      *keys() {
        for (const activation of context.system.listActivations()) {
          if (activation.type === context.keyActor.name) yield activation.key;
        }
      },
      typeOf: async (key) => {
        const reply = await runKeyCommand(context, "TYPE", key, []);
        return typeof reply === "object" && reply !== null && "simple" in reply
          ? reply.simple
          : "none";
      },
    },
  });
  if (page.after === undefined) return ["0", page.keys];
  const id = ++context.nextCursor;
  context.cursors.set(id, page.after);
  if (context.cursors.size > MAX_CURSORS) {
    const oldest = context.cursors.keys().next().value;
    if (oldest !== undefined) context.cursors.delete(oldest);
  }
  return [String(id), page.keys];
}

function command(args: string[]): Reply {
  const sub = (args[1] ?? "").toUpperCase();
  if (sub === "") return COMMAND_SPECS.map(commandInfoReply);
  if (sub === "COUNT") return COMMAND_SPECS.length;
  if (sub === "INFO") {
    return args.slice(2).map((name) => {
      const entry = commandSpec(name.toUpperCase());
      return entry === undefined ? null : commandInfoReply(entry);
    });
  }
  // No documentation table: on an error, redis-cli falls back to the hints it ships with
  // (an empty table would leave it with none) and adds the commands `COMMAND` lists.
  if (sub === "DOCS") return { error: "ERR COMMAND DOCS is not supported by Troupe" };
  return { error: `ERR unknown subcommand '${args[1]}'. Try COMMAND HELP.` };
}

async function actorCall(context: RespServerContext, args: string[]): Promise<Reply> {
  const [, type, key, action, json] = args as [string, string, string, string, string?];
  let callArgs: unknown[] = [];
  if (json !== undefined) {
    try {
      const parsed: unknown = JSON.parse(json);
      callArgs = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return { error: "ERR ACTOR.CALL arguments must be JSON (an array of arguments)" };
    }
  }
  try {
    const result = await context.system.invoke(type, key, action, callArgs);
    return JSON.stringify(result ?? null);
  } catch (error) {
    return failureReply(error);
  }
}

async function eventSend(context: RespServerContext, args: string[]): Promise<Reply> {
  if (context.sendEvent === undefined)
    return { error: "ERR events are not enabled on this server" };
  let data: unknown;
  try {
    data = JSON.parse(args[2] as string);
  } catch {
    return { error: "ERR EVENT.SEND data must be JSON" };
  }
  try {
    return [...(await context.sendEvent(args[1] as string, data))];
  } catch (error) {
    return failureReply(error);
  }
}

function queueInTransaction(state: ConnectionState, name: string, args: string[]): Reply {
  const command = KEY_COMMANDS.get(name);
  const spec = commandSpec(name);
  const arityOk =
    spec !== undefined &&
    (spec.arity >= 0 ? args.length === spec.arity : args.length >= -spec.arity);
  if (command === undefined || spec === undefined || spec.lastKey !== 1 || !arityOk) {
    state.multiFailed = true;
    return command === undefined || spec?.lastKey !== 1
      ? { error: `ERR Troupe runs MULTI/EXEC on one key: '${name.toLowerCase()}' cannot be queued` }
      : arityError(name);
  }
  state.multi?.push([name, args.slice(1)]);
  return { simple: "QUEUED" };
}

async function exec(context: RespServerContext, queued: [string, string[]][]): Promise<Reply> {
  if (queued.length === 0) return [];
  const key = queued[0]?.[1][0] as string;
  if (queued.some(([, args]) => args[0] !== key)) {
    return { error: "EXECABORT Troupe runs MULTI/EXEC on one key; this transaction names several" };
  }
  try {
    const replies = await context.system
      .get(context.keyActor, key)
      .multi(queued.map(([name, args]) => [name, args.slice(1)]));
    return replies;
  } catch (error) {
    return failureReply(error);
  }
}

/** Runs one command for a connection. */
export function dispatch(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
  args: string[],
): Outcome | Promise<Outcome> {
  const name = (args[0] as string).toUpperCase();
  if (!state.authenticated && !ALLOWED_WITHOUT_AUTH.has(name)) return NOAUTH;
  const spec = commandSpec(name);
  if (spec === undefined) {
    if (state.multi !== undefined) state.multiFailed = true;
    const shown = args
      .slice(1, 4)
      .map((arg) => `'${arg.slice(0, 64)}'`)
      .join(" ");
    return {
      error: `ERR unknown command '${(args[0] as string).slice(0, 64)}', with args beginning with: ${shown}`,
    };
  }
  if (spec.arity >= 0 ? args.length !== spec.arity : args.length < -spec.arity) {
    if (state.multi !== undefined) state.multiFailed = true;
    return arityError(name);
  }
  if (state.multi !== undefined && !TRANSACTION_CONTROL.has(name)) {
    return queueInTransaction(state, name, args);
  }
  if (
    state.protocol === 2 &&
    state.channels.size + state.patterns.size > 0 &&
    !ALLOWED_WHILE_SUBSCRIBED.has(name)
  ) {
    return {
      error: `ERR Can't execute '${name.toLowerCase()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
    };
  }
  const keyCommand = KEY_COMMANDS.get(name);
  if (keyCommand !== undefined && (spec.lastKey === 1 || args.length === 2)) {
    return runKeyCommand(context, name, args[1] as string, args.slice(2));
  }
  switch (name) {
    case "PING":
      if (state.protocol === 2 && state.channels.size + state.patterns.size > 0) {
        return ["pong", args[1] ?? ""];
      }
      return args.length > 1 ? (args[1] as string) : { simple: "PONG" };
    case "ECHO":
      return args[1] as string;
    case "QUIT":
      return new Closing(OK);
    case "AUTH": {
      const token = args[args.length - 1] as string;
      if (args.length > 3) return SYNTAX_ERROR;
      if (context.tokenDigest === undefined) {
        return {
          error:
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        };
      }
      if (!tokenMatches(context, token)) {
        return { error: "WRONGPASS invalid username-password pair or user is disabled." };
      }
      state.authenticated = true;
      return OK;
    }
    case "HELLO":
      return hello(context, state, args);
    case "SELECT":
      return args[1] === "0" ? OK : { error: "ERR DB index is out of range" };
    case "CLIENT":
      return client(state, args);
    case "RESET":
      unsubscribeAll(context, state, listener);
      state.multi = undefined;
      state.multiFailed = false;
      state.protocol = 2;
      state.name = undefined;
      state.authenticated = context.tokenDigest === undefined;
      return { simple: "RESET" };
    case "INFO":
      return renderInfo(context, args[1]);
    case "COMMAND":
      return command(args);
    case "CONFIG":
      // Benchmarks and tools read settings; Troupe exposes none through CONFIG.
      return (args[1] ?? "").toUpperCase() === "GET"
        ? { map: [] }
        : { error: "ERR CONFIG SET is not supported by Troupe: use the runtime's configuration" };
    case "MGET":
      return Promise.all(args.slice(1).map((key) => runKeyCommand(context, "GET", key, []))).then(
        (replies) => replies.map((reply) => (isErrorReply(reply) ? null : reply)),
      );
    case "MSET": {
      if (args.length % 2 !== 1) return arityError(name);
      const writes: (Reply | Promise<Reply>)[] = [];
      for (let index = 1; index < args.length; index += 2) {
        writes.push(
          runKeyCommand(context, "SET", args[index] as string, [args[index + 1] as string]),
        );
      }
      return Promise.all(writes).then((replies) => replies.find(isErrorReply) ?? OK);
    }
    case "DEL":
    case "EXISTS":
      return sumOverKeys(context, name, args.slice(1));
    case "SCAN":
      return scan(context, args);
    case "PUBLISH":
      if (context.hub === undefined) return { error: "ERR pub/sub is not enabled on this server" };
      return context.hub.publish(args[1] as string, args[2] as string).catch(failureReply);
    case "SUBSCRIBE":
      return subscribe(context, state, listener, "channel", args.slice(1));
    case "PSUBSCRIBE":
      return subscribe(context, state, listener, "pattern", args.slice(1));
    case "UNSUBSCRIBE":
      return unsubscribe(context, state, listener, "channel", args.slice(1));
    case "PUNSUBSCRIBE":
      return unsubscribe(context, state, listener, "pattern", args.slice(1));
    case "MULTI":
      if (state.multi !== undefined) return { error: "ERR MULTI calls can not be nested" };
      state.multi = [];
      state.multiFailed = false;
      return OK;
    case "DISCARD":
      if (state.multi === undefined) return { error: "ERR DISCARD without MULTI" };
      state.multi = undefined;
      return OK;
    case "EXEC": {
      const queued = state.multi;
      if (queued === undefined) return { error: "ERR EXEC without MULTI" };
      state.multi = undefined;
      if (state.multiFailed) {
        return { error: "EXECABORT Transaction discarded because of previous errors." };
      }
      return exec(context, queued);
    }
    case "ACTOR.CALL":
      return actorCall(context, args);
    case "EVENT.SEND":
      return eventSend(context, args);
    default:
      return { error: `ERR '${name.toLowerCase()}' is not supported by Troupe` };
  }
}
