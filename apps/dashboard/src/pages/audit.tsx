import { useState } from "preact/hooks";
import { type AuditEntry, api } from "../api.js";
import { ErrorBox, formatTime, useLoad } from "../ui.js";

/** The audit log (`GET /api/audit`, admin): who did what, newest first, filtered by token or operation. */
export function AuditPage() {
  const [token, setToken] = useState("");
  const [operation, setOperation] = useState("");
  const query = new URLSearchParams({ limit: "100" });
  if (token.trim() !== "") query.set("token", token.trim());
  if (operation.trim() !== "") query.set("operation", operation.trim());
  const entries = useLoad(
    () => api<{ data: AuditEntry[]; cursor?: string }>(`/audit?${query}`),
    [token, operation],
    5000,
  );
  return (
    <section>
      <h1>Audit log</h1>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Token
          <input
            name="audit-token"
            placeholder="any"
            value={token}
            onChange={(event) => setToken(event.currentTarget.value)}
          />
        </label>
        <label>
          Operation
          <input
            name="audit-operation"
            placeholder="e.g. POST /api/runs/*"
            value={operation}
            onChange={(event) => setOperation(event.currentTarget.value)}
          />
        </label>
      </form>
      <ErrorBox error={entries.error} />
      <table data-testid="audit-entries">
        <thead>
          <tr>
            <th>Time</th>
            <th>Token</th>
            <th>Operation</th>
            <th>Target</th>
            <th>Status</th>
            <th>Source</th>
          </tr>
        </thead>
        <tbody>
          {(entries.value?.data ?? []).map((entry) => (
            <tr key={entry.id}>
              <td>{formatTime(entry.at)}</td>
              <td>{entry.token}</td>
              <td class="mono">{entry.operation}</td>
              <td class="mono">{entry.target}</td>
              <td>{entry.status}</td>
              <td class="mono">{entry.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries.value && entries.value.data.length === 0 ? <p>No entries.</p> : null}
    </section>
  );
}
