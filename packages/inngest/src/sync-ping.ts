import type { Clock } from "@troupe/core";
import { z } from "zod";
import { canonicalJson, signBody } from "./signing.js";

/** The result of pinging an app's serve URL with `PUT` (it then calls `POST /fn/register`). */
export interface SyncResult {
  /** True when the app answered 2xx. */
  readonly ok: boolean;
  /** The status the SDK reported (from the registration it made). */
  readonly status: number;
  /** The SDK's message (`Successfully registered`, or why not). */
  readonly message: string;
  /** Whether the app's functions changed. */
  readonly modified: boolean;
}

/** What {@link pingAppForSync} needs. */
export interface SyncPingOptions {
  /** Signs the ping (`X-Inngest-Signature`) when set. */
  readonly signingKey?: string | undefined;
  /** `dev` or `cloud`, sent as `X-Inngest-Server-Kind`. */
  readonly serverKind: "dev" | "cloud";
  readonly fetch: typeof fetch;
  readonly clock: Clock;
}

/** How long a sync ping may take. */
const SYNC_TIMEOUT_MS = 30_000;

const putReplySchema = z.looseObject({
  message: z.string().optional(),
  modified: z.boolean().optional(),
});

/**
 * Asks the app served at `url` to sync (`PUT url`, as `troupe dev -u <url>` does); the SDK then
 * calls `POST /fn/register`. Redirects are never followed: a sync reaches the URL it names and
 * nothing else. Only an Inngest SDK's own reply (`x-inngest-sdk`) is read; anything else
 * answering at that address (an internal service, a redirect) is reported by its status alone,
 * never by its body.
 */
export async function pingAppForSync(url: string, options: SyncPingOptions): Promise<SyncResult> {
  const target = new URL(url);
  const body = canonicalJson({ url });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-inngest-server-kind": options.serverKind,
  };
  if (options.signingKey) {
    headers["x-inngest-signature"] = signBody(
      options.signingKey,
      body,
      Math.floor(options.clock.now() / 1000),
    );
  }
  let response: Response;
  let text: string;
  try {
    response = await options.fetch(target, {
      method: "PUT",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(SYNC_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    return {
      ok: false,
      status: 0,
      message: `could not reach ${url}: ${error instanceof Error ? error.message : String(error)}`,
      modified: false,
    };
  }
  const fromSdk = response.headers.has("x-inngest-sdk");
  let reply: z.infer<typeof putReplySchema> = {};
  if (fromSdk) {
    try {
      const parsed = putReplySchema.safeParse(JSON.parse(text));
      if (parsed.success) reply = parsed.data;
    } catch {
      // A non-JSON answer: reported through the message below.
    }
  }
  const redirected = response.status >= 300 && response.status < 400;
  return {
    ok: response.ok && fromSdk,
    status: response.status,
    message:
      reply.message ??
      (redirected
        ? `HTTP ${response.status}: a redirect, which Troupe does not follow; sync the final serve URL`
        : response.ok && fromSdk
          ? "synced"
          : `HTTP ${response.status}: not an Inngest SDK's answer`),
    modified: reply.modified ?? false,
  };
}
