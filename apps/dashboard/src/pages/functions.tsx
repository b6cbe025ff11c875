import { useState } from "preact/hooks";
import { useCan } from "../access.js";
import { type AppRow, api, type DashboardFunction, type RunSummary } from "../api.js";
import { ErrorBox, formatTime, Json, Link, parseJsonField, Status, useLoad } from "../ui.js";
import { FunctionOperations } from "./function-operations.js";

function triggerText(trigger: DashboardFunction["triggers"][number]): string {
  if (trigger.cron !== undefined) return `cron ${trigger.cron}`;
  return trigger.if ? `${trigger.event} if ${trigger.if}` : String(trigger.event);
}

/** Functions: every function with its triggers and source. */
export function FunctionsPage() {
  const functions = useLoad(() => api<{ data: DashboardFunction[] }>("/functions"), [], 5000);
  return (
    <section>
      <h1>Functions</h1>
      <ErrorBox error={functions.error} />
      <table data-testid="functions-table">
        <thead>
          <tr>
            <th>Function</th>
            <th>Source</th>
            <th>Triggers</th>
          </tr>
        </thead>
        <tbody>
          {(functions.value?.data ?? []).map((fn) => (
            <tr key={fn.id} data-function-id={fn.id}>
              <td>
                <Link href={`/functions/${encodeURIComponent(fn.id)}`}>{fn.name}</Link>
                {fn.name !== fn.id ? <div class="hint mono">{fn.id}</div> : null}
              </td>
              <td>{fn.source === "app" ? `app ${fn.appName}` : "in-process"}</td>
              <td>{fn.triggers.map(triggerText).join(", ") || "invoke only"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {functions.value?.data.length === 0 ? (
        <p class="empty">No functions yet: sync an app on the Apps page.</p>
      ) : null}
    </section>
  );
}

/** One function: config, flow-control state, invoke with a payload. */
export function FunctionPage(props: { id: string }) {
  const canWrite = useCan("runs:write");
  const [payload, setPayload] = useState("{}");
  const [invoked, setInvoked] = useState<{ eventId: string; runs: RunSummary[] } | undefined>();
  const [error, setError] = useState<unknown>(undefined);
  const detail = useLoad(
    () =>
      api<{ data: DashboardFunction; flowControl: unknown }>(
        `/functions/${encodeURIComponent(props.id)}`,
      ),
    [props.id],
    3000,
  );
  const invoke = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const data = parseJsonField(payload, "payload");
      setInvoked(
        await api<{ eventId: string; runs: RunSummary[] }>(
          `/functions/${encodeURIComponent(props.id)}/invoke`,
          { method: "POST", body: { data } },
        ),
      );
    } catch (caught) {
      setError(caught);
    }
  };
  const value = detail.value;
  return (
    <section>
      <p>
        <Link href="/functions">← Functions</Link>
      </p>
      <ErrorBox error={detail.error} />
      {value ? (
        <>
          <h1>{value.data.name}</h1>
          <dl class="facts">
            <dt>Id</dt>
            <dd class="mono">{value.data.id}</dd>
            <dt>Source</dt>
            <dd>{value.data.source === "app" ? `app ${value.data.appName}` : "in-process"}</dd>
            <dt>Triggers</dt>
            <dd>{value.data.triggers.map(triggerText).join(", ") || "invoke only"}</dd>
          </dl>
          {canWrite ? (
            <form class="card" onSubmit={(event) => void invoke(event)}>
              <h2>Invoke with a payload</h2>
              <textarea
                name="payload"
                rows={4}
                value={payload}
                onInput={(event) => setPayload(event.currentTarget.value)}
              />
              <button type="submit">Invoke</button>
              <ErrorBox error={error} />
              {invoked ? (
                <p class="notice">
                  Event <Link href={`/events/${invoked.eventId}`}>{invoked.eventId}</Link>
                  {invoked.runs.map((run) => (
                    <span key={run.id}>
                      {" "}
                      → run <Link href={`/runs/${run.id}`}>{run.id}</Link>{" "}
                      <Status status={run.status} />
                    </span>
                  ))}
                </p>
              ) : null}
            </form>
          ) : null}
          {canWrite ? <FunctionOperations id={value.data.id} /> : null}
          <h2>Flow control</h2>
          <Json value={value.flowControl} />
          <h2>Configuration</h2>
          <Json value={value.data.config} />
        </>
      ) : null}
    </section>
  );
}

/** Apps: synced SDK apps, and syncing one by its serve URL. */
export function AppsPage() {
  const canSync = useCan("admin");
  const [url, setUrl] = useState("");
  const [result, setResult] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const apps = useLoad(() => api<{ data: AppRow[] }>("/apps"), [], 5000);
  const sync = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setResult(undefined);
    try {
      const answer = await api<{ ok: boolean; status: number; message: string }>("/apps/sync", {
        method: "POST",
        body: { url },
      });
      if (answer.ok) setResult(answer.message);
      else setError(new Error(`sync failed (${answer.status}): ${answer.message}`));
      await apps.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section>
      <h1>Apps</h1>
      {canSync ? (
        <form class="card" onSubmit={(event) => void sync(event)}>
          <h2>Sync an app by URL</h2>
          <label>
            Serve URL
            <input
              name="url"
              placeholder="http://127.0.0.1:3000/api/inngest"
              value={url}
              onInput={(event) => setUrl(event.currentTarget.value)}
            />
          </label>
          <button type="submit">Sync</button>
          {result ? <p class="notice">{result}</p> : null}
          <ErrorBox error={error} />
        </form>
      ) : null}
      <ErrorBox error={apps.error} />
      <table>
        <thead>
          <tr>
            <th>App</th>
            <th>URL</th>
            <th>SDK</th>
            <th>Synced</th>
            <th>Functions</th>
          </tr>
        </thead>
        <tbody>
          {(apps.value?.data ?? []).map((app) => (
            <tr key={app.appName}>
              <td>{app.appName}</td>
              <td class="mono">{app.url}</td>
              <td>{[app.sdk, app.framework].filter(Boolean).join(" ")}</td>
              <td>{formatTime(app.syncedAt)}</td>
              <td>
                {app.functions.map((id) => (
                  <Link key={id} href={`/functions/${encodeURIComponent(id)}`}>
                    {id}{" "}
                  </Link>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {apps.value?.data.length === 0 ? <p class="empty">No apps synced.</p> : null}
    </section>
  );
}
