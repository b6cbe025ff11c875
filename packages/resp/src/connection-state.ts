import type { ProtocolPrincipal } from "./access.js";
import type { RespVersion } from "./reply-writer.js";

/** What a connection remembers between commands. */
export interface ConnectionState {
  readonly id: number;
  authenticated: boolean;
  protocol: RespVersion;
  name: string | undefined;
  /** Commands queued by MULTI, or undefined outside a transaction. */
  multi: [string, string[]][] | undefined;
  /** True when a queued command was refused (EXEC then aborts). */
  multiFailed: boolean;
  readonly channels: Set<string>;
  readonly patterns: Set<string>;
  readonly address: string;
  readonly since: number;
  /** With scoped-token access: who authenticated, with what, and when it was last checked. */
  principal?: ProtocolPrincipal | undefined;
  credentials?: { readonly password: string; readonly user: string | undefined } | undefined;
  verifiedAt: number;
  /** An AUTH or token re-check in flight: later commands wait for it. */
  pendingAuth?: Promise<void> | undefined;
}

/** How many channels and patterns a connection listens to. */
export function subscriptionCount(state: ConnectionState): number {
  return state.channels.size + state.patterns.size;
}
