import { TroupeError } from "@troupe/core";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Largest request body accepted (events, syncs, checkpoints): 32 MiB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** `dev` for `troupe dev`, `cloud` for `troupe start`: what SDKs see in `x-inngest-server-kind`. */
export type ServerKind = "dev" | "cloud";

/** An Inngest-style error reply: `{ status, error }` with the server kind header. */
export type FailReply = (status: ContentfulStatusCode, message: string) => Response;

/** A JSON reply that already carries the server kind header. */
export type JsonReply = (status: ContentfulStatusCode, body: unknown) => Response;

/**
 * Replies built by {@link jsonReply}: they carry `x-inngest-server-kind` in a plain header
 * record, which the API's header middleware leaves alone. Setting the header afterwards reads
 * `res.headers`, which turns the Node adapter's lightweight response into a `Headers` object it
 * then iterates (sorted) to write the head: about 1 KB of garbage per request.
 */
const carriesServerKind = new WeakSet<Response>();

/** Whether `response` was built with the server kind header (see {@link jsonReply}). */
export function hasServerKind(response: Response): boolean {
  return carriesServerKind.has(response);
}

/** JSON replies of a server of `serverKind`, with its `x-inngest-server-kind` header. */
export function jsonReply(serverKind: ServerKind): JsonReply {
  const headers = { "content-type": "application/json", "x-inngest-server-kind": serverKind };
  return (status, body) => {
    const response = new Response(JSON.stringify(body), { status, headers });
    carriesServerKind.add(response);
    return response;
  };
}

/** The error reply of a server of `serverKind`. */
export function failReply(serverKind: ServerKind): FailReply {
  const reply = jsonReply(serverKind);
  return (status, message) => reply(status, { status, error: message });
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
