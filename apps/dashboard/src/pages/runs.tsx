import { useState } from "preact/hooks";
import { useCan } from "../access.js";
import { api, type DashboardFunction, type Page, type RunDetail, type RunSummary } from "../api.js";
import { navigate } from "../router.js";
import { ErrorBox, formatDuration, formatTime, Json, Link, Status, useLoad } from "../ui.js";

const STATUSES = ["", "queued", "running", "completed", "failed", "cancelled"];

function toQuery(query: URLSearchParams, cursor?: string | null): string {
  const params = new URLSearchParams();
  for (const key of ["function", "status", "from", "to"]) {
    const value = query.get(key);
    if (value) params.set(key, key === "from" || key === "to" ? String(Date.parse(value)) : value);
  }
  params.set("limit", "50");
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

/** Runs: filters (function, status, time), newest first, live by polling, more by cursor. */
export function RunsPage(props: { query: URLSearchParams }) {
  const { query } = props;
  const [live, setLive] = useState(true);
  const [more, setMore] = useState<RunSummary[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const functions = useLoad(() => api<{ data: DashboardFunction[] }>("/functions"), []);
  const queryText = toQuery(query);
  const page = useLoad(
    async () => {
      const result = await api<Page<RunSummary>>(`/runs?${queryText}`);
      return result;
    },
    [queryText],
    live ? 2000 : undefined,
  );
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    setMore([]);
    setCursor(undefined);
    navigate(`/runs${next.toString() ? `?${next}` : ""}`, true);
  };
  const nextCursor = cursor === undefined ? page.value?.nextCursor : cursor;
  const loadMore = async () => {
    if (!nextCursor) return;
    const result = await api<Page<RunSummary>>(`/runs?${toQuery(query, nextCursor)}`);
    setMore((previous) => [...previous, ...result.data]);
    setCursor(result.nextCursor);
  };
  const runs = [...(page.value?.data ?? []), ...more];

  return (
    <section>
      <h1>Runs</h1>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Function
          <select
            name="function"
            value={query.get("function") ?? ""}
            onChange={(event) => setFilter("function", event.currentTarget.value)}
          >
            <option value="">all</option>
            {(functions.value?.data ?? []).map((fn) => (
              <option key={fn.id} value={fn.id}>
                {fn.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select
            name="status"
            value={query.get("status") ?? ""}
            onChange={(event) => setFilter("status", event.currentTarget.value)}
          >
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {status || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input
            type="datetime-local"
            name="from"
            value={query.get("from") ?? ""}
            onChange={(event) => setFilter("from", event.currentTarget.value)}
          />
        </label>
        <label>
          To
          <input
            type="datetime-local"
            name="to"
            value={query.get("to") ?? ""}
            onChange={(event) => setFilter("to", event.currentTarget.value)}
          />
        </label>
        <label class="inline">
          <input
            type="checkbox"
            name="live"
            checked={live}
            onChange={(event) => setLive(event.currentTarget.checked)}
          />
          Live
        </label>
      </form>
      <ErrorBox error={page.error} />
      <table class="runs" data-testid="runs-table">
        <thead>
          <tr>
            <th>Run</th>
            <th>Function</th>
            <th>Status</th>
            <th>Created</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run-id={run.id} data-function={run.functionId}>
              <td class="mono">
                <Link href={`/runs/${run.id}`}>{run.id}</Link>
              </td>
              <td>{run.functionId}</td>
              <td>
                <Status status={run.status} />
              </td>
              <td>{formatTime(run.createdAt)}</td>
              <td>
                {formatDuration(run.endedAt === undefined ? null : run.endedAt - run.createdAt)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!page.loading && runs.length === 0 ? <p class="empty">No runs match.</p> : null}
      {nextCursor ? (
        <button type="button" onClick={() => void loadMore()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

/** The timeline: one bar per step, placed on the run's time axis. */
function Timeline(props: { run: RunDetail; now: number }) {
  const { run } = props;
  const origin = run.createdAt;
  const end = Math.max(
    run.endedAt ?? props.now,
    ...run.steps.map((step) => step.endedAt ?? step.at ?? step.startedAt ?? origin),
  );
  const span = Math.max(end - origin, 1);
  return (
    <div class="timeline" data-testid="timeline">
      {run.steps.map((step) => {
        const start = step.startedAt ?? origin;
        const stop =
          step.endedAt ??
          (step.status === "sleeping" || step.status === "waiting" ? (step.at ?? end) : end);
        const left = ((start - origin) / span) * 100;
        const width = Math.max(((stop - start) / span) * 100, 0.8);
        return (
          <div class="timeline-row" key={step.hash} data-step={step.id}>
            <div class="timeline-label">
              <span class="op">{step.op}</span> {step.id}
            </div>
            <div class="timeline-track">
              <div
                class={`timeline-bar bar-${step.status}`}
                style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}
                title={`${step.status}, ${formatDuration(step.durationMs)}`}
              />
            </div>
            <div class="timeline-duration">{formatDuration(step.durationMs)}</div>
          </div>
        );
      })}
    </div>
  );
}

const FINISHED = new Set(["completed", "failed", "cancelled"]);

/** One run: status, actions (cancel, rerun, rerun from a step), timeline and step details. */
export function RunPage(props: { id: string }) {
  const canWrite = useCan("runs:write");
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const run = useLoad(
    () => api<{ data: RunDetail }>(`/runs/${encodeURIComponent(props.id)}`),
    [props.id],
    1500,
  );
  const value = run.value?.data;
  const act = async (work: () => Promise<void>) => {
    setActionError(undefined);
    try {
      await work();
    } catch (error) {
      setActionError(error);
    }
  };
  const cancel = () =>
    act(async () => {
      const result = await api<{ cancelled: boolean }>(`/runs/${props.id}/cancel`, {
        method: "POST",
        body: {},
      });
      setMessage(result.cancelled ? "Run cancelled." : "The run had already finished.");
      await run.reload();
    });
  const rerun = (fromStep?: string) =>
    act(async () => {
      const result = await api<{ runId: string }>(`/runs/${props.id}/rerun`, {
        method: "POST",
        body: fromStep === undefined ? {} : { fromStep },
      });
      navigate(`/runs/${result.runId}`);
    });

  return (
    <section>
      <p>
        <Link href="/runs">← Runs</Link>
      </p>
      <ErrorBox error={run.error} />
      {value ? (
        <>
          <h1>
            Run <span class="mono">{value.id}</span> <Status status={value.status} />
          </h1>
          <dl class="facts">
            <dt>Function</dt>
            <dd>{value.functionId}</dd>
            <dt>Created</dt>
            <dd>{formatTime(value.createdAt)}</dd>
            <dt>Ended</dt>
            <dd>{formatTime(value.endedAt)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(value.durationMs)}</dd>
            {value.rerunOf ? (
              <>
                <dt>Rerun of</dt>
                <dd>
                  <Link href={`/runs/${value.rerunOf}`}>{value.rerunOf}</Link>
                </dd>
              </>
            ) : null}
            <dt>Events</dt>
            <dd>
              {value.events.map((event) => (
                <Link key={event.id} href={`/events/${event.id}`}>
                  {event.name}{" "}
                </Link>
              ))}
            </dd>
          </dl>
          {canWrite ? (
            <div class="actions">
              {FINISHED.has(value.status) ? null : (
                <button type="button" class="danger" onClick={() => void cancel()}>
                  Cancel run
                </button>
              )}
              <button type="button" onClick={() => void rerun()}>
                Rerun
              </button>
            </div>
          ) : null}
          {message ? <p class="notice">{message}</p> : null}
          <ErrorBox error={actionError} />
          <h2>Timeline</h2>
          <Timeline run={value} now={Date.now()} />
          <h2>Steps</h2>
          <table class="steps">
            <thead>
              <tr>
                <th>Step</th>
                <th>Kind</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Started</th>
                <th>Duration</th>
                <th>Result</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {value.steps.map((step) => (
                <tr key={step.hash} data-step={step.id}>
                  <td>{step.id}</td>
                  <td>{step.op}</td>
                  <td>
                    <Status status={step.status} />
                    {step.at !== undefined && !step.endedAt ? (
                      <div class="hint">until {formatTime(step.at)}</div>
                    ) : null}
                  </td>
                  <td>{step.attempts}</td>
                  <td>{formatTime(step.startedAt)}</td>
                  <td>{formatDuration(step.durationMs)}</td>
                  <td>
                    {step.input !== undefined ? (
                      <details>
                        <summary>input</summary>
                        <Json value={step.input} />
                      </details>
                    ) : null}
                    {step.output !== undefined ? (
                      <details>
                        <summary>output</summary>
                        <Json value={step.output} />
                      </details>
                    ) : null}
                    {step.error ? (
                      <div class="error">
                        {step.error.name}: {step.error.message}
                      </div>
                    ) : null}
                    {step.errors && step.errors.length > 0 ? (
                      <details>
                        <summary>{step.errors.length} earlier failed attempt(s)</summary>
                        <Json value={step.errors} />
                      </details>
                    ) : null}
                  </td>
                  <td>
                    {canWrite ? (
                      <button type="button" class="small" onClick={() => void rerun(step.id)}>
                        Rerun from here
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {value.output !== undefined ? (
            <>
              <h2>Output</h2>
              <Json value={value.output} />
            </>
          ) : null}
          {value.error ? (
            <>
              <h2>Error</h2>
              <div class="error">
                {value.error.name}: {value.error.message}
              </div>
            </>
          ) : null}
        </>
      ) : run.loading ? (
        <p>Loading…</p>
      ) : null}
    </section>
  );
}
