import { type Clock, zodIssueError } from "@troupe/core";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { getQueryParam, getQueryParams } from "hono/utils/url";
import { BRACKETS } from "../register-schema.js";
import { MAX_NAME_BYTES, publishedData, publishQuerySchema, type RealtimeFrame } from "./frames.js";
import type { RealtimeHub } from "./hub.js";

/** The path of the publish route. */
export const PUBLISH_PATH = "/v1/realtime/publish";

/** Where a publish goes: its channel, topics and run, from the query. */
export interface PublishTarget {
  readonly channel: string;
  readonly topics: readonly string[];
  readonly run_id?: string | undefined;
}

/**
 * The publish query of a request URL (`channel`, one or more `topic`, optional `run_id`), read
 * straight from the URL string as Hono's `c.req.query` does (no URL object per publish), or the
 * 400 message naming the field.
 */
export function publishTargetOf(url: string): PublishTarget | { readonly error: string } {
  // With a key, Hono's readers return that key's value(s), as `c.req.query`/`queries` do.
  const query = {
    channel: getQueryParam(url, "channel") as string | undefined,
    topic: (getQueryParams(url, "topic") as string[] | undefined) ?? [],
    run_id: getQueryParam(url, "run_id") as string | undefined,
  };
  // A valid query (every publish the SDK makes) is checked by hand; the schema checks the rest,
  // and names what is wrong.
  const { channel, topic, run_id } = query;
  if (
    isName(channel) &&
    topic.length > 0 &&
    topic.every(isName) &&
    (run_id === undefined || typeof run_id === "string")
  ) {
    return { channel, topics: topic, run_id };
  }
  const parsed = publishQuerySchema.safeParse(query);
  if (!parsed.success) return { error: zodIssueError(parsed.error, "query", BRACKETS).message };
  return { channel: parsed.data.channel, topics: parsed.data.topic, run_id: parsed.data.run_id };
}

/** What {@link publishQuerySchema} accepts as a channel or topic name. */
function isName(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length > 0 &&
    // A UTF-8 byte takes at most 3 per UTF-16 unit, so short names need no count.
    (value.length * 3 <= MAX_NAME_BYTES || Buffer.byteLength(value, "utf8") <= MAX_NAME_BYTES)
  );
}

/** The frame of one topic of a publish (one object, built in one go). */
function frameOf(
  clock: Clock,
  target: PublishTarget,
  topic: string,
  kind: RealtimeFrame["kind"],
  data: unknown,
  streamId: string | undefined,
): RealtimeFrame {
  const frame: { -readonly [K in keyof RealtimeFrame]: RealtimeFrame[K] } = {
    channel: target.channel,
    topic,
    created_at: new Date(clock.now()).toISOString(),
    kind,
    data,
  };
  if (target.run_id !== undefined) frame.run_id = target.run_id;
  if (streamId !== undefined) frame.stream_id = streamId;
  return frame;
}

/** Publishes one frame of `kind` per topic of `target`. */
export function publishToTopics(
  hub: RealtimeHub,
  clock: Clock,
  target: PublishTarget,
  kind: RealtimeFrame["kind"],
  data: unknown,
  streamId?: string,
): Promise<void> {
  const { topics } = target;
  if (topics.length === 1) {
    return hub.publish(frameOf(clock, target, topics[0] as string, kind, data, streamId));
  }
  return Promise.all(
    topics.map((topic) => hub.publish(frameOf(clock, target, topic, kind, data, streamId))),
  ).then(() => undefined);
}

/** What {@link createPublishFastPath} needs from the Inngest API. */
export interface PublishFastPathOptions {
  readonly hub: RealtimeHub;
  readonly clock: Clock;
  readonly maxPublishBytes: number;
  /** Whether an `Authorization` value may call `/v1/*` (the API's guard). */
  readonly authorized: (header: string | null) => boolean;
  readonly fail: (status: ContentfulStatusCode, message: string) => Response;
  readonly reply: (status: ContentfulStatusCode, body: unknown) => Response;
  /** The API's answer to an error a route threw. */
  readonly onError: (error: unknown) => Response;
}

/**
 * The publish route's common case answered before the router: a `POST /v1/realtime/publish`
 * whose body states its length and is not a stream, which is every JSON publish the SDK makes.
 * Routing it through Hono builds a context, a request wrapper and a middleware chain per publish
 * (about a fifth of the route's garbage) for an answer that depends on none of them. Returns
 * `undefined` for any other request, which the app's router then handles, the publish route's
 * other cases (a stream, a body without a length, a path Hono would decode) included. The
 * answers are the route's own: 401 without the signing key, 413 past the size limit, 400 naming
 * a bad query field, then `{ ok: true }`.
 */
export function createPublishFastPath(
  options: PublishFastPathOptions,
): (request: Request) => Promise<Response> | undefined {
  const { hub, clock, maxPublishBytes, authorized, fail, reply, onError } = options;
  return (request) => {
    if (request.method !== "POST") return undefined;
    const url = request.url;
    // The path, as the router reads it: from the first "/" after the scheme to the query.
    const start = url.indexOf("/", url.indexOf("://") + 3);
    if (start < 0 || !url.startsWith(PUBLISH_PATH, start)) return undefined;
    const end = start + PUBLISH_PATH.length;
    if (end !== url.length && url.charCodeAt(end) !== 63 /* "?" */) return undefined;
    const headers = request.headers;
    const length = headers.get("content-length");
    if (length === null || headers.get("transfer-encoding") !== null) return undefined;
    if ((headers.get("content-type") ?? "").startsWith("text/stream")) return undefined;
    if (!authorized(headers.get("authorization"))) {
      return Promise.resolve(fail(401, "Unauthorized: the signing key does not match"));
    }
    if (Number.parseInt(length, 10) > maxPublishBytes) {
      return Promise.resolve(fail(413, `body: larger than ${maxPublishBytes} bytes`));
    }
    const target = publishTargetOf(url);
    if ("error" in target) return Promise.resolve(fail(400, target.error));
    return request
      .text()
      .then((body) => publishToTopics(hub, clock, target, "data", publishedData(body)))
      .then(() => reply(200, { ok: true }), onError);
  };
}
