import { randomUUID } from "node:crypto";
import { type Clock, zodIssueError } from "@troupe/core";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { BRACKETS } from "../register-schema.js";
import {
  publishedData,
  type RealtimeFrame,
  scopeOfTokenRequest,
  tokenRequestSchema,
} from "./frames.js";
import type { RealtimeHub } from "./hub.js";
import { PUBLISH_PATH, publishTargetOf, publishToTopics } from "./publish.js";
import type { RealtimeTokens } from "./tokens.js";

/** What {@link mountRealtimeRoutes} needs from the Inngest API. */
export interface RealtimeRoutesOptions {
  readonly hub: RealtimeHub;
  readonly tokens: RealtimeTokens;
  readonly clock: Clock;
  /** Answers an error in the API's JSON error shape. */
  readonly fail: (status: ContentfulStatusCode, message: string) => Response;
  /** Answers JSON with the API's headers (a publish's `{ ok: true }`). */
  readonly reply: (status: ContentfulStatusCode, body: unknown) => Response;
  /** Largest publish body (bytes); a stream publish is cut off past it. */
  readonly maxPublishBytes: number;
}

/**
 * `POST /v1/realtime/token` (a subscription token for one channel's topics) and
 * `POST /v1/realtime/publish?channel=&topic=&run_id=` (JSON, or a `text/stream` body relayed as
 * `datastream-start`, `chunk`s and `datastream-end`). The caller is authorised by the API's
 * `/v1/*` check, which must be registered first.
 */
export function mountRealtimeRoutes(app: Hono, options: RealtimeRoutesOptions): void {
  const { hub, tokens, clock, fail, reply, maxPublishBytes } = options;
  const tooLarge = () => fail(413, `body: larger than ${maxPublishBytes} bytes`);
  const counted = bodyLimit({ maxSize: maxPublishBytes, onError: tooLarge });
  // A body that states its length (every SDK publish) is judged by the header alone. Hono's
  // `bodyLimit` reads `c.req.raw.body`, which makes the Node adapter build a full web Request
  // (AbortController, ReadableStream over the socket) per publish, the largest CPU cost of the
  // route; without it the body is read straight off the Node request. A body without a length
  // (chunked) is counted as it is read.
  app.use("/v1/realtime/*", async (c, next) => {
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) {
      return counted(c, next);
    }
    return Number.parseInt(length, 10) > maxPublishBytes ? tooLarge() : next();
  });

  app.post("/v1/realtime/token", async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return fail(400, "body: expected JSON: [{channel, name, kind}]");
    }
    const parsed = tokenRequestSchema.safeParse(body);
    if (!parsed.success) return fail(400, zodIssueError(parsed.error, "body", BRACKETS).message);
    return c.json({ jwt: await tokens.issue(scopeOfTokenRequest(parsed.data)) });
  });

  app.post(PUBLISH_PATH, async (c) => {
    const target = publishTargetOf(c.req.url);
    if ("error" in target) return fail(400, target.error);
    const publishAll = (kind: RealtimeFrame["kind"], data: unknown, streamId?: string) =>
      publishToTopics(hub, clock, target, kind, data, streamId);

    const contentType = c.req.header("content-type") ?? "";
    if (!contentType.startsWith("text/stream") || !c.req.raw.body) {
      await publishAll("data", publishedData(await c.req.text()));
      return reply(200, { ok: true });
    }

    const streamId = randomUUID();
    await publishAll("datastream-start", streamId);
    const decoder = new TextDecoder();
    let received = 0;
    let cutOff = false;
    for await (const bytes of c.req.raw.body as unknown as AsyncIterable<Uint8Array>) {
      received += bytes.byteLength;
      if (received > maxPublishBytes) {
        cutOff = true;
        break;
      }
      const text = decoder.decode(bytes, { stream: true });
      if (text === "") continue;
      await publishAll("chunk", text, streamId);
    }
    await publishAll("datastream-end", streamId);
    return cutOff ? tooLarge() : reply(200, { ok: true });
  });
}
