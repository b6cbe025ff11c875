// The JSON the dashboard API answers with, as types: the runtime builds its answers with them and
// the dashboard imports them (type-only, so its browser bundle pulls no runtime code).
import type { ActivationInfo, ActorTypeInfo } from "@troupe/actors";
import type { FlowEvent, RunStatus, RunSummary, RunView, StepView } from "@troupe/flows";

export type { SerializedError } from "@troupe/flows";
export type { FlowEvent, RunStatus, RunSummary };

/** One step of a run's timeline, with how long it ran (`null` while it has not finished). */
export interface DashboardStep extends StepView {
  /** `endedAt - startedAt` in ms, or `null` when either is unknown. */
  readonly durationMs: number | null;
}

/** `GET /api/runs/:id` (`data`): a run with its events and each step's duration. */
export interface DashboardRunDetail extends RunView {
  /** From the first step's start (or the run's creation) to its end, ms; `null` while running. */
  readonly durationMs: number | null;
  /** Finished steps in completion order, then pending ones. */
  readonly steps: readonly DashboardStep[];
}

/** A page of a listing, newest first (`GET /api/runs`, `GET /api/events`). */
export interface DashboardPage<T> {
  /** The items of this page. */
  readonly data: T[];
  /** Pass as `cursor` for the next page; `null` on the last one. */
  readonly nextCursor: string | null;
}

/** A function as the dashboard lists it, in-process or from a synced app. */
export interface DashboardFunction {
  /** The function id the engine knows. */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** `in-process` (TypeScript, `createFunction`) or `app` (an SDK app synced over HTTP). */
  readonly source: "in-process" | "app";
  /** The app it belongs to (source `app`). */
  readonly appName?: string;
  /** Event and cron triggers. */
  readonly triggers: readonly {
    readonly event?: string;
    readonly if?: string;
    readonly cron?: string;
  }[];
  /** The configuration: the engine's definition, or the SDK's config as synced. */
  readonly config: unknown;
}

/** `GET /api/apps` (`data`): one synced SDK app. */
export interface DashboardApp {
  /** The app's name as it synced. */
  readonly appName: string;
  /** Its serve URL. */
  readonly url: string;
  /** The framework the SDK reported, if any. */
  readonly framework: string | null;
  /** The SDK and version the app reported, if any. */
  readonly sdk: string | null;
  /** When it last synced, ms since the epoch. */
  readonly syncedAt: number;
  /** The ids of its functions. */
  readonly functions: string[];
}

/** `GET /api/info`: what this runtime serves. */
export interface DashboardInfo {
  /** `dev` or `start`. */
  readonly mode: string;
  /** The storage kind (`sqlite`, `postgres`, …). */
  readonly storage: string;
  /** Whether the API wants a bearer token. */
  readonly auth: boolean;
  /** Whether the Inngest API is mounted (apps, syncing). */
  readonly inngest: boolean;
  /** Whether a stats registry is configured. */
  readonly stats: boolean;
  /** Whether an actor system is hosted. */
  readonly actors: boolean;
}

/** An actor type in `GET /api/actors`, with how many of its actors this node holds. */
export interface DashboardActorType extends ActorTypeInfo {
  /** Activations of this type in memory on this node. */
  readonly active: number;
}

/** `GET /api/actors`: this node's actor types and activations. */
export interface DashboardActorsOverview {
  /** This node's id. */
  readonly nodeId: string;
  /** The hosted types. */
  readonly types: readonly DashboardActorType[];
  /** The activations in memory on this node. */
  readonly activations: readonly ActivationInfo[];
}
