import { invalidArgument, TroupeError } from "@troupe/core";
import type { CompiledDefinition } from "./define.js";
import type { ActorAddress, RemoteReply } from "./directory.js";

/** How many times a call is sent on after `moved` answers before it fails with UNAVAILABLE. */
export const MAX_REROUTES = 5;

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A call to an action the type does not have (or to an internal one). */
export function unknownAction(definition: CompiledDefinition, action: string): TroupeError {
  return invalidArgument(
    "action",
    `${definition.name} has no action ${JSON.stringify(action)} (actions: ${definition.actionNames.join(", ")})`,
  );
}

/** The error a node answers with when it does not own an actor (mapped to a `moved` reply). */
export function movedError(address: ActorAddress): TroupeError {
  return new TroupeError("MOVED", `actor ${address.type}/${address.key} is owned by another node`, {
    details: { address },
  });
}

/** No node would take the call after {@link MAX_REROUTES} re-routes. */
export function unavailableError(address: ActorAddress): TroupeError {
  return new TroupeError(
    "UNAVAILABLE",
    `actor ${address.type}/${address.key}: no node would take the call after ${MAX_REROUTES} attempts`,
    { details: { address } },
  );
}

/**
 * A call was sent to a node whose lease lapsed before it answered: the call may or may not have
 * run there, so it is not retried unless its action is declared idempotent or read-only.
 */
export function outcomeUnknownError(
  address: ActorAddress,
  action: string,
  nodeId: string,
): TroupeError {
  return new TroupeError(
    "OUTCOME_UNKNOWN",
    `actor ${address.type}/${address.key}: node ${JSON.stringify(nodeId)} lost its lease while the call to "${action}" was in flight; it may or may not have run (retry if that is safe, or declare the action idempotent)`,
    { details: { address, action, node: nodeId } },
  );
}

/** Maps anything thrown to a wire reply: `moved` for MOVED, otherwise an error with its code. */
export function errorReply(error: unknown): RemoteReply {
  // The actor system signals "not here" with a MOVED error; on the wire that is its own reply.
  if (TroupeError.isInstance(error, "MOVED")) return { kind: "moved" };
  if (error instanceof Error) {
    const code = TroupeError.isInstance(error) ? error.code : undefined;
    return {
      kind: "error",
      error: { name: error.name, message: error.message, ...(code ? { code } : {}) },
    };
  }
  return { kind: "error", error: { name: "Error", message: String(error) } };
}
