import { ulidTime } from "@troupe/core";
import type { FlowEvent, RunView } from "@troupe/flows";

type RestStatus = "Running" | "Completed" | "Failed" | "Cancelled";

function restStatus(status: RunView["status"]): RestStatus {
  switch (status) {
    case "completed":
      return "Completed";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
    default:
      return "Running";
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A run in the shape of Inngest's REST v1 run object. */
export function toRestRun(run: RunView): Record<string, unknown> {
  return {
    run_id: run.id,
    function_id: run.functionId,
    status: restStatus(run.status),
    run_started_at: iso(run.startedAt ?? run.createdAt),
    ended_at: iso(run.endedAt),
    output:
      run.status === "failed" ? (run.output ?? { error: run.error ?? null }) : (run.output ?? null),
    event_id: run.events[0]?.id ?? null,
    batch_id: null,
    ...(run.error === undefined ? {} : { error: run.error }),
  };
}

/** An event in the shape of Inngest's REST v1 event object. */
export function toRestEvent(event: FlowEvent): Record<string, unknown> {
  return {
    internal_id: event.id,
    id: event.dedupeId ?? event.id,
    name: event.name,
    data: event.data,
    ts: event.ts,
    received_at: new Date(ulidTime(event.id)).toISOString(),
    ...(event.user === undefined ? {} : { user: event.user }),
    ...(event.v === undefined ? {} : { v: event.v }),
  };
}
