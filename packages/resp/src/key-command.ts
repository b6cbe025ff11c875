import type { KeyState } from "./key-state.js";
import type { Reply } from "./reply.js";

/** What a command on one key returns: its reply and, when it changed the key, the new state. */
export interface KeyCommandResult {
  /** The reply to the client. */
  readonly reply: Reply;
  /** The key's new state (the same object when changed in place); absent: unchanged. */
  readonly state?: KeyState;
}

/**
 * A command on one key, as a pure function of the key's live state (an expired key arrives as
 * absent), the arguments after the key, and the time.
 */
export interface KeyCommand {
  /** True when the command never changes the key (it may then run beside other reads). */
  readonly readOnly: boolean;
  /** Fewest arguments after the key. Default 0. */
  readonly minArgs?: number;
  /** Most arguments after the key. Default: no limit. */
  readonly maxArgs?: number;
  /** Runs the command. May change `state` in place, and then returns it as `state`. */
  run(state: KeyState, args: readonly string[], now: number): KeyCommandResult;
}
