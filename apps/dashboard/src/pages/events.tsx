import { useState } from "preact/hooks";
import { useCan } from "../access.js";
import { api, type FlowEvent, type Page, type RunSummary } from "../api.js";
import { navigate } from "../router.js";
import { ErrorBox, formatTime, Json, Link, parseJsonField, Status, useLoad } from "../ui.js";

/** Events: send a test event, list (filter by name, live), open one. */
export function EventsPage(props: { query: URLSearchParams }) {
  const canSend = useCan("events:send");
  const name = props.query.get("name") ?? "";
  const [sendName, setSendName] = useState("");
  const [sendData, setSendData] = useState("{}");
  const [sendError, setSendError] = useState<unknown>(undefined);
  const [sent, setSent] = useState<string | undefined>(undefined);
  const events = useLoad(
    () =>
      api<Page<FlowEvent>>(`/events?limit=100${name ? `&name=${encodeURIComponent(name)}` : ""}`),
    [name],
    2000,
  );
  const send = async (event: Event) => {
    event.preventDefault();
    setSendError(undefined);
    try {
      const data = parseJsonField(sendData, "data");
      const result = await api<{ ids: string[] }>("/events", {
        method: "POST",
        body: { name: sendName, data },
      });
      setSent(result.ids[0]);
      await events.reload();
    } catch (error) {
      setSendError(error);
    }
  };

  return (
    <section>
      <h1>Events</h1>
      {canSend ? (
        <form class="card" onSubmit={(event) => void send(event)} data-testid="send-event">
          <h2>Send a test event</h2>
          <label>
            Name
            <input
              name="name"
              placeholder="user/created"
              value={sendName}
              onInput={(event) => setSendName(event.currentTarget.value)}
            />
          </label>
          <label>
            Data (JSON)
            <textarea
              name="data"
              rows={4}
              value={sendData}
              onInput={(event) => setSendData(event.currentTarget.value)}
            />
          </label>
          <button type="submit">Send event</button>
          {sent ? (
            <p class="notice">
              Sent <Link href={`/events/${sent}`}>{sent}</Link>
            </p>
          ) : null}
          <ErrorBox error={sendError} />
        </form>
      ) : null}
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Name
          <input
            name="filter-name"
            value={name}
            placeholder="any"
            onChange={(event) => {
              const value = event.currentTarget.value;
              navigate(value ? `/events?name=${encodeURIComponent(value)}` : "/events", true);
            }}
          />
        </label>
      </form>
      <ErrorBox error={events.error} />
      <table data-testid="events-table">
        <thead>
          <tr>
            <th>Event</th>
            <th>Name</th>
            <th>Received</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {(events.value?.data ?? []).map((event) => (
            <tr key={event.id} data-event-id={event.id}>
              <td class="mono">
                <Link href={`/events/${event.id}`}>{event.id}</Link>
              </td>
              <td>{event.name}</td>
              <td>{formatTime(event.ts)}</td>
              <td class="mono clip">{JSON.stringify(event.data)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** One event: payload, the runs it started, functions that skipped it, replay. */
export function EventPage(props: { id: string }) {
  const canReplay = useCan("runs:write");
  const [error, setError] = useState<unknown>(undefined);
  const detail = useLoad(
    () =>
      api<{
        data: FlowEvent;
        runs: RunSummary[];
        skipped: { functionId: string; reason: string }[];
      }>(`/events/${encodeURIComponent(props.id)}`),
    [props.id],
    2000,
  );
  const replay = async () => {
    setError(undefined);
    try {
      const result = await api<{ ids: string[] }>(`/events/${props.id}/replay`, { method: "POST" });
      navigate(`/events/${result.ids[0]}`);
    } catch (caught) {
      setError(caught);
    }
  };
  const value = detail.value;
  return (
    <section>
      <p>
        <Link href="/events">← Events</Link>
      </p>
      <ErrorBox error={detail.error ?? error} />
      {value ? (
        <>
          <h1>
            {value.data.name} <span class="mono small">{value.data.id}</span>
          </h1>
          {canReplay ? (
            <div class="actions">
              <button type="button" onClick={() => void replay()}>
                Replay event
              </button>
            </div>
          ) : null}
          <dl class="facts">
            <dt>Received</dt>
            <dd>{formatTime(value.data.ts)}</dd>
          </dl>
          <h2>Payload</h2>
          <Json
            value={{ data: value.data.data, ...(value.data.user ? { user: value.data.user } : {}) }}
          />
          <h2>Runs</h2>
          <table>
            <tbody>
              {value.runs.map((run) => (
                <tr key={run.id} data-run-id={run.id} data-function={run.functionId}>
                  <td class="mono">
                    <Link href={`/runs/${run.id}`}>{run.id}</Link>
                  </td>
                  <td>{run.functionId}</td>
                  <td>
                    <Status status={run.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {value.runs.length === 0 ? <p class="empty">No runs.</p> : null}
          {value.skipped.length > 0 ? (
            <>
              <h2>Skipped</h2>
              <table>
                <tbody>
                  {value.skipped.map((skip) => (
                    <tr key={skip.functionId}>
                      <td>{skip.functionId}</td>
                      <td>{skip.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
