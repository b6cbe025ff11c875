import { TroupeError } from "@troupe/core";

/** Codes of the errors streams throw besides the core ones (`INVALID_ARGUMENT`, `CLOSED`). */
export type StreamErrorCode = "STREAM_TRIMMED" | "EVENT_TOO_LARGE";

/** Resuming after `after` is impossible: retention removed events the subscriber has not seen. */
export function streamTrimmed(
  namespace: string,
  key: string,
  after: number,
  firstRetained: number | undefined,
): TroupeError {
  const kept =
    firstRetained === undefined ? "none is retained" : `the oldest retained is ${firstRetained}`;
  return new TroupeError(
    "STREAM_TRIMMED",
    `stream ${namespace}/${key}: events after ${after} were removed by retention (${kept})`,
    { details: { namespace, key, after, firstRetained } },
  );
}

/** An event whose encoded form is larger than the stream's limit. */
export function eventTooLarge(size: number, limit: number): TroupeError {
  return new TroupeError(
    "EVENT_TOO_LARGE",
    `event: encoded size ${size} bytes is over the limit of ${limit} bytes`,
    { details: { field: "event", size, limit } },
  );
}
