import type { ActorSystem } from "@troupe/actors";
import type { Clock, Counter, Gauge, Logger, Store } from "@troupe/core";
import type { RespAccess } from "./access.js";
import type { RespKeyActor } from "./key-actor.js";
import type { PubSubHub } from "./pubsub-hub.js";

/** Sends a Troupe event (`EVENT.SEND`); answers the ids of the events stored. */
export type SendEvent = (name: string, data: unknown) => Promise<readonly string[]>;

/** Counters the server keeps for `INFO` and metrics. */
export interface RespServerStats {
  connectionsTotal: number;
  connectionsOpen: number;
  commandsTotal: number;
  errorsTotal: number;
  protocolErrorsTotal: number;
  rejectedConnections: number;
}

/** The metrics a server reports, when given a Metrics sink. */
export interface RespMeter {
  readonly connections: Gauge;
  readonly commands: Counter;
  readonly errors: Counter;
}

/** What commands run against: shared by every connection of one server. */
export interface RespServerContext {
  readonly system: ActorSystem;
  readonly keyActor: RespKeyActor;
  readonly store: Store;
  /** Store key prefix of the key actors' states (the SCAN index). */
  readonly statePrefix: string;
  readonly hub: PubSubHub | undefined;
  /** SHA-256 of the accepted token, or undefined when no authentication is required. */
  readonly tokenDigest: Buffer | undefined;
  /** Scoped-token access (per-command scopes, audit), or undefined. */
  readonly access: RespAccess | undefined;
  readonly sendEvent: SendEvent | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: RespServerStats;
  readonly meter: RespMeter | undefined;
  readonly startedAt: number;
  readonly nodeId: string;
  readonly port: () => number;
  /** SCAN cursors: number → last key looked at. */
  readonly cursors: Map<number, string>;
  nextCursor: number;
}
