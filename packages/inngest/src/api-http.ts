import { TroupeError } from "@troupe/core";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Largest request body accepted (events, syncs, checkpoints): 32 MiB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** `dev` for `troupe dev`, `cloud` for `troupe start`: what SDKs see in `x-inngest-server-kind`. */
export type ServerKind = "dev" | "cloud";

/** An Inngest-style error reply: `{ status, error }` with the server kind header. */
export type FailReply = (status: ContentfulStatusCode, message: string) => Response;

/** The error reply of a server of `serverKind`. */
export function failReply(serverKind: ServerKind): FailReply {
  return (status, message) =>
    new Response(JSON.stringify({ status, error: message }), {
      status,
      headers: { "content-type": "application/json", "x-inngest-server-kind": serverKind },
    });
}

/** The request's JSON body; an empty or malformed body throws INVALID_ARGUMENT naming `body`. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === "")
    throw new TroupeError("INVALID_ARGUMENT", "body: expected JSON, got an empty body", {
      details: { field: "body" },
    });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      `body: is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      {
        details: { field: "body" },
      },
    );
  }
}
