import { createHash } from "node:crypto";
import { z } from "zod";

/**
 * What travels between Troupe processes for one publish, and what a subscriber receives: the
 * message shape the SDK's realtime client parses (`kind`, `channel`, `topic`, `data`, `run_id`,
 * `created_at`, `stream_id`).
 */
export interface RealtimeFrame {
  readonly kind: "data" | "datastream-start" | "datastream-end" | "chunk";
  readonly channel: string;
  readonly topic: string;
  readonly data: unknown;
  readonly run_id?: string;
  readonly stream_id?: string;
  /** ISO 8601, when the publish reached Troupe. */
  readonly created_at: string;
}

/** Most UTF-8 bytes of a channel or topic name. */
export const MAX_NAME_BYTES = 1024;

const name = () =>
  z
    .string({ error: "expected a string" })
    .min(1, "expected a non-empty string")
    .refine((value) => Buffer.byteLength(value, "utf8") <= MAX_NAME_BYTES, {
      message: `longer than ${MAX_NAME_BYTES} bytes`,
    });

/** `POST /v1/realtime/publish` query: `channel`, one or more `topic`, optional `run_id`. */
export const publishQuerySchema = z.object({
  channel: name(),
  topic: z.array(name()).min(1, "at least one topic is required"),
  run_id: z.string().optional(),
});

/** `POST /v1/realtime/token` body: the SDK sends one entry per topic, all on one channel. */
export const tokenRequestSchema = z
  .array(
    z.looseObject({
      channel: name(),
      name: name(),
      kind: z.string().optional(),
    }),
  )
  .min(1, "expected at least one topic")
  .max(256, "at most 256 topics per token")
  .superRefine((topics, context) => {
    const index = topics.findIndex((topic) => topic.channel !== topics[0]?.channel);
    if (index > 0) {
      context.addIssue({
        code: "custom",
        path: [index, "channel"],
        message: "every topic of one token must be on the same channel",
      });
    }
  });

/** The channel and topics a subscription token grants. */
export interface RealtimeScope {
  readonly channel: string;
  readonly topics: readonly string[];
}

/** The scope of a parsed token request: its channel and its distinct topic names, in order. */
export function scopeOfTokenRequest(request: z.infer<typeof tokenRequestSchema>): RealtimeScope {
  const channel = request[0]?.channel ?? "";
  return { channel, topics: [...new Set(request.map((topic) => topic.name))] };
}

/** Whether a subscriber holding `scope` receives `frame`. */
export function frameMatches(scope: RealtimeScope, frame: RealtimeFrame): boolean {
  return frame.channel === scope.channel && scope.topics.includes(frame.topic);
}

/**
 * The PubSub channel that carries a realtime channel between processes. Realtime channel names
 * are free text (`user:42`, `chat@room`), PubSub names are not, so the name is hashed; frames
 * carry the real name and subscribers filter on it.
 */
export function pubsubChannelOf(prefix: string, channel: string): string {
  return `${prefix}rt/${createHash("sha256").update(channel, "utf8").digest("hex").slice(0, 40)}`;
}

const FRAME_KINDS: ReadonlySet<unknown> = new Set<RealtimeFrame["kind"]>([
  "data",
  "datastream-start",
  "datastream-end",
  "chunk",
]);

/** Encodes a frame for the PubSub. */
export function encodeFrame(frame: RealtimeFrame): Uint8Array {
  return Buffer.from(JSON.stringify(frame), "utf8");
}

/**
 * Decodes a PubSub message (bytes or its text); `undefined` for anything that is not a frame.
 * Checked by hand rather than with a schema: it runs for every message every process receives.
 */
export function decodeFrame(message: Uint8Array | string): RealtimeFrame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      typeof message === "string" ? message : Buffer.from(message).toString("utf8"),
    );
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const { kind, channel, topic, data, run_id, stream_id, created_at } = parsed as Record<
    string,
    unknown
  >;
  if (
    !FRAME_KINDS.has(kind) ||
    typeof channel !== "string" ||
    typeof topic !== "string" ||
    typeof created_at !== "string" ||
    (run_id !== undefined && typeof run_id !== "string") ||
    (stream_id !== undefined && typeof stream_id !== "string")
  ) {
    return undefined;
  }
  return {
    kind: kind as RealtimeFrame["kind"],
    channel,
    topic,
    data,
    created_at,
    ...(run_id === undefined ? {} : { run_id }),
    ...(stream_id === undefined ? {} : { stream_id }),
  };
}

/**
 * The data of a JSON publish body: the parsed JSON, or the text itself when it is not JSON
 * (the SDK sends strings as they are).
 */
export function publishedData(body: string): unknown {
  if (body === "") return null;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}
