import type { Clock, Logger } from "@troupe/core";
import type { Activation } from "./activation.js";
import type { ActorDirectory } from "./directory.js";
import type { Deadlines, Envelope } from "./envelope.js";
import type { StateStore } from "./state-store.js";
import type { TurnServices } from "./turn-context.js";

/**
 * What every activation of a system works with: explicit collaborators, one object per system.
 */
export interface ActivationDeps {
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  readonly logger: Logger;
  /** Claims the actor before it activates, releases the claim when it ends. */
  readonly directory: ActorDirectory;
  /** Loads the state and writes it, fenced on the claim's epoch. */
  readonly states: StateStore;
  /** The system's activations: told when this one is ready and when it ends. */
  readonly table: {
    activated(activation: Activation): void;
    removed(activation: Activation): void;
  };
  /** Routes the calls this activation ended before running. */
  readonly router: { redispatch(envelope: Envelope): void };
  /** What turn contexts hand out: references, reminders, turn ids. */
  readonly services: TurnServices;
}
