import { isUlid, parseWith } from "@troupe/core";
import { z } from "zod";

/** Event data: a JSON object. */
export type EventData = Record<string, unknown>;

/** An event as stored and handed to functions; `TData` types `data` (see `FunctionConfig.schema`). */
export interface FlowEvent<TData extends EventData = EventData> {
  /** The event's internal id: a ULID assigned on receipt. */
  readonly id: string;
  /** The event's name, e.g. `"app/user.created"`. */
  readonly name: string;
  /** The payload (a JSON object). */
  readonly data: TData;
  /** Optional user information (deprecated in Inngest, kept for compatibility). */
  readonly user?: Record<string, unknown>;
  /** When the event happened (ms since the epoch): the sender's, or the receipt time. */
  readonly ts: number;
  /** An optional schema version. */
  readonly v?: string;
  /** The sender's idempotency id, when given: a repeat within 24 h starts no functions. */
  readonly dedupeId?: string;
}

/** An event as sent: `name` and optional `data`, `user`, `id` (idempotency), `ts`, `v`. */
export interface EventInput {
  /** The event's name. */
  readonly name: string;
  /** The payload (a JSON object). Default `{}`. */
  readonly data?: Record<string, unknown>;
  /** Optional user information. */
  readonly user?: Record<string, unknown>;
  /** An idempotency id: a second event with this id within 24 h is stored but starts no functions. */
  readonly id?: string;
  /**
   * The event's internal id, chosen by the sender (a ULID: 26 Crockford base-32 characters) so a
   * retried send keeps its ids. An event whose `eventId` is already stored is not stored or
   * routed again; the send answers with the same id. Default: a new ULID.
   */
  readonly eventId?: string;
  /** When the event happened (ms since the epoch). Default: now. */
  readonly ts?: number;
  /** An optional schema version. */
  readonly v?: string;
}

const MIN_TS = Date.UTC(1980, 0, 1);
const MAX_TS = Date.UTC(2100, 0, 1);

const eventInputSchema = z
  .object({
    name: z.string().min(1, "expected a non-empty event name").max(256),
    data: z.record(z.string(), z.unknown()).optional(),
    user: z.record(z.string(), z.unknown()).optional(),
    id: z.string().min(1).max(256).optional(),
    eventId: z
      .string()
      .refine(isUlid, "expected a ULID (26 Crockford base-32 characters, upper case)")
      .optional(),
    ts: z
      .number()
      .int()
      .min(MIN_TS, "expected ms since the epoch between 1980 and 2100")
      .max(MAX_TS, "expected ms since the epoch between 1980 and 2100")
      .optional(),
    v: z.string().max(64).optional(),
  })
  .loose();

/** Validates one event input; throws INVALID_ARGUMENT naming the field (e.g. `events[2].name`). */
export function validateEventInput(input: unknown, field: string): EventInput {
  return parseWith(eventInputSchema, input, field) as EventInput;
}
