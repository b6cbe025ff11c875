import { auditTarget, commandScope, holds, type ProtocolPrincipal } from "./access.js";
import { dispatch, type Outcome } from "./command-dispatch.js";
import { commandSpec } from "./command-specs.js";
import type { ConnectionState } from "./connection-state.js";
import type { PubSubListener } from "./pubsub-hub.js";
import { isErrorReply, OK, type Reply, SYNTAX_ERROR } from "./reply.js";
import type { RespServerContext } from "./server-context.js";

const WRONGPASS: Reply = { error: "WRONGPASS invalid username-password pair or user is disabled." };
const REVOKED: Reply = { error: "NOAUTH Authentication required: the token is no longer valid." };
const DEFAULT_RECHECK_MS = 100;

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === "function";
}

// Commands after an AUTH (or a token re-check) wait for it, so a pipelined command never runs
// with the credentials of before.
function serialize<T>(state: ConnectionState, work: Promise<T>): Promise<T> {
  const settled: Promise<void> = work
    .then(
      () => undefined,
      () => undefined,
    )
    .finally(() => {
      if (state.pendingAuth === settled) state.pendingAuth = undefined;
    });
  state.pendingAuth = settled;
  return work;
}

async function authenticate(
  context: RespServerContext,
  state: ConnectionState,
  password: string,
  user: string | undefined,
): Promise<boolean> {
  const access = context.access;
  if (access === undefined) return false;
  let principal: ProtocolPrincipal | undefined;
  try {
    principal = await access.authenticate(password, user);
  } catch (error) {
    context.logger.error("resp: token check failed", { error });
  }
  if (principal === undefined) {
    access.audit?.({
      principal: undefined,
      source: state.address,
      operation: "RESP AUTH",
      target: user ?? "default",
      status: 401,
    });
    return false;
  }
  state.authenticated = true;
  state.principal = principal;
  state.credentials = { password, user };
  state.verifiedAt = context.clock.now();
  return true;
}

async function recheck(context: RespServerContext, state: ConnectionState): Promise<boolean> {
  const credentials = state.credentials;
  if (credentials === undefined) return false;
  const ok = await authenticate(context, state, credentials.password, credentials.user);
  if (!ok) {
    state.authenticated = false;
    state.principal = undefined;
    state.credentials = undefined;
  }
  return ok;
}

function auditCommand(
  context: RespServerContext,
  state: ConnectionState,
  principal: ProtocolPrincipal,
  name: string,
  args: string[],
  status: number,
): void {
  context.access?.audit?.({
    principal,
    source: state.address,
    operation: `RESP ${name}`,
    target: auditTarget(name, args),
    status,
  });
}

// The scope of each command name, worked out once (the hot path runs per command).
const SCOPES = new Map<string, string | undefined>();
function scopeOf(name: string, flags: readonly string[]): string | undefined {
  if (SCOPES.has(name)) return SCOPES.get(name);
  const scope = commandScope(name, flags);
  SCOPES.set(name, scope);
  return scope;
}

function authorized(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
  args: string[],
  name: string,
  scope: string,
): Outcome | Promise<Outcome> {
  const principal = state.principal as ProtocolPrincipal;
  const mutating = scope === "actors:call" || scope === "events:send";
  if (!holds(principal, scope)) {
    if (state.multi !== undefined) state.multiFailed = true;
    if (mutating) auditCommand(context, state, principal, name, args, 403);
    return {
      error: `NOPERM this token lacks the scope ${scope} (needed by '${name.toLowerCase()}')`,
    };
  }
  const queued = state.multi !== undefined;
  const outcome = dispatch(context, state, listener, args);
  if (!mutating || queued || context.access?.audit === undefined) return outcome;
  if (!isPromise(outcome)) {
    auditCommand(context, state, principal, name, args, isErrorReply(outcome as Reply) ? 400 : 200);
    return outcome;
  }
  return outcome.then((settled) => {
    auditCommand(context, state, principal, name, args, isErrorReply(settled as Reply) ? 400 : 200);
    return settled;
  });
}

/**
 * Runs one command under the server's scoped-token access, when it has one: `AUTH` and `HELLO …
 * AUTH` check the token, every other command needs its scope (`NOPERM` naming it otherwise), a
 * token is checked again every `recheckMs` so a revocation ends an open connection's rights, and
 * mutating commands and refusals go to the audit hook. Without access, plain {@link dispatch}.
 */
export function guardedDispatch(
  context: RespServerContext,
  state: ConnectionState,
  listener: PubSubListener,
  args: string[],
): Outcome | Promise<Outcome> {
  const access = context.access;
  if (access === undefined) return dispatch(context, state, listener, args);
  if (state.pendingAuth !== undefined) {
    return state.pendingAuth.then(() => guardedDispatch(context, state, listener, args));
  }
  const name = (args[0] as string).toUpperCase();
  if (name === "AUTH") {
    if (args.length > 3) return SYNTAX_ERROR;
    const user = args.length === 3 ? args[1] : undefined;
    return serialize(
      state,
      authenticate(context, state, args[args.length - 1] as string, user).then((ok) =>
        ok ? OK : WRONGPASS,
      ),
    );
  }
  if (name === "HELLO") {
    const at = args.findIndex((arg, index) => index >= 2 && arg.toUpperCase() === "AUTH");
    if (at !== -1 && at + 2 < args.length) {
      const rest = [...args.slice(0, at), ...args.slice(at + 3)];
      return serialize(
        state,
        authenticate(context, state, args[at + 2] as string, args[at + 1]).then((ok) =>
          ok ? dispatch(context, state, listener, rest) : WRONGPASS,
        ),
      );
    }
    return dispatch(context, state, listener, args);
  }
  if (name === "RESET") {
    const outcome = dispatch(context, state, listener, args);
    state.authenticated = false;
    state.principal = undefined;
    state.credentials = undefined;
    return outcome;
  }
  const spec = commandSpec(name);
  if (!state.authenticated || state.principal === undefined || spec === undefined) {
    return dispatch(context, state, listener, args);
  }
  const scope = scopeOf(name, spec.flags);
  if (scope === undefined) return dispatch(context, state, listener, args);
  if (context.clock.now() - state.verifiedAt >= (access.recheckMs ?? DEFAULT_RECHECK_MS)) {
    return serialize(state, recheck(context, state)).then((ok) =>
      ok ? authorized(context, state, listener, args, name, scope) : REVOKED,
    );
  }
  return authorized(context, state, listener, args, name, scope);
}
