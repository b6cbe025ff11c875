import { useState } from "preact/hooks";
import { useCan } from "../access.js";
import { type ActorsOverview, type ActorType, ApiError, api } from "../api.js";
import { ErrorBox, formatTime, Json, useLoad } from "../ui.js";

// Keys travel in the path as text; key-less types use "_".
function keyPath(type: ActorType | undefined, key: string): string {
  return type?.keyKind === "none" ? "_" : encodeURIComponent(key);
}

/**
 * Actors: types and this node's activations, inspect an actor's state, call an action. Until an
 * actor system is configured the API answers 501 and this page shows why.
 */
export function ActorsPage() {
  const canCall = useCan("actors:call");
  const overview = useLoad(() => api<ActorsOverview>("/actors"), [], 3000);
  const [typeName, setTypeName] = useState("");
  const [key, setKey] = useState("");
  const [action, setAction] = useState("");
  const [args, setArgs] = useState("[]");
  const [state, setState] = useState<unknown>(undefined);
  const [result, setResult] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const notConfigured = overview.error instanceof ApiError && overview.error.status === 501;
  const types = overview.value?.types ?? [];
  const type = types.find((candidate) => candidate.name === typeName) ?? types[0];
  const chosenAction = action || type?.actions[0]?.name || "";

  const inspect = async (event?: Event) => {
    event?.preventDefault();
    setError(undefined);
    try {
      if (!type) throw new Error("type: no actor type is hosted");
      setState(await api(`/actors/${encodeURIComponent(type.name)}/${keyPath(type, key)}`));
    } catch (caught) {
      setError(caught);
    }
  };
  const call = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      if (!type) throw new Error("type: no actor type is hosted");
      let parsed: unknown;
      try {
        parsed = JSON.parse(args || "[]");
      } catch (caught) {
        throw new Error(`args: not valid JSON (${(caught as Error).message})`);
      }
      if (!Array.isArray(parsed)) throw new Error("args: expected a JSON array");
      const answer = await api<{ result: unknown }>(
        `/actors/${encodeURIComponent(type.name)}/${keyPath(type, key)}/${encodeURIComponent(chosenAction)}`,
        { method: "POST", body: { args: parsed } },
      );
      setResult(answer.result);
      await inspect();
      await overview.reload();
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section>
      <h1>Actors</h1>
      {notConfigured ? (
        <div class="placeholder" data-testid="actors-unavailable">
          <p>
            <strong>Not available (501).</strong> {(overview.error as ApiError).message}
          </p>
          <p class="hint">
            Host actor types with{" "}
            <code>createRuntime(config, {"{ actors: { definitions } }"})</code> or{" "}
            <code>actors</code> in the config file.
          </p>
        </div>
      ) : (
        <ErrorBox error={overview.error} />
      )}
      {overview.value ? (
        <>
          <p class="hint">
            Node <span class="mono">{overview.value.nodeId}</span>
          </p>
          <h2>Types</h2>
          <table data-testid="actor-types">
            <thead>
              <tr>
                <th>Type</th>
                <th>Key</th>
                <th>Actions</th>
                <th>Active here</th>
              </tr>
            </thead>
            <tbody>
              {types.map((candidate) => (
                <tr key={candidate.name} data-actor-type={candidate.name}>
                  <td>{candidate.name}</td>
                  <td>{candidate.keyKind}</td>
                  <td>
                    {candidate.actions
                      .map((item) => (item.readOnly ? `${item.name} (read-only)` : item.name))
                      .join(", ")}
                  </td>
                  <td class="num">{candidate.active}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Activations</h2>
          <table data-testid="actor-activations">
            <thead>
              <tr>
                <th>Type</th>
                <th>Key</th>
                <th>Node</th>
                <th>Since</th>
                <th>Last call</th>
              </tr>
            </thead>
            <tbody>
              {overview.value.activations.map((activation) => (
                <tr
                  key={`${activation.type}/${activation.key}`}
                  data-activation={`${activation.type}/${activation.key}`}
                >
                  <td>{activation.type}</td>
                  <td class="mono">{activation.key || "—"}</td>
                  <td class="mono">{activation.nodeId}</td>
                  <td>{formatTime(activation.since)}</td>
                  <td>{formatTime(activation.lastCallAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {overview.value.activations.length === 0 ? (
            <p class="empty">No actor is active on this node.</p>
          ) : null}
          <form class="card" onSubmit={(event) => void call(event)} data-testid="actor-call">
            <h2>Inspect or call an actor</h2>
            <div class="filters">
              <label>
                Type
                <select
                  name="actor-type"
                  value={type?.name ?? ""}
                  onChange={(event) => {
                    setTypeName(event.currentTarget.value);
                    setAction("");
                  }}
                >
                  {types.map((candidate) => (
                    <option key={candidate.name} value={candidate.name}>
                      {candidate.name}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Key
                <input
                  name="actor-key"
                  value={key}
                  disabled={type?.keyKind === "none"}
                  onInput={(event) => setKey(event.currentTarget.value)}
                />
              </label>
              <label>
                Action
                <select
                  name="actor-action"
                  value={chosenAction}
                  onChange={(event) => setAction(event.currentTarget.value)}
                >
                  {(type?.actions ?? []).map((item) => (
                    <option key={item.name} value={item.name}>
                      {item.name}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <label>
              Arguments (JSON array)
              <input
                name="actor-args"
                value={args}
                onInput={(event) => setArgs(event.currentTarget.value)}
              />
            </label>
            <div class="actions">
              {canCall ? <button type="submit">Call action</button> : null}
              <button type="button" class="small" onClick={() => void inspect()}>
                Inspect state
              </button>
            </div>
            <ErrorBox error={error} />
            {result !== undefined ? (
              <div data-testid="actor-result">
                <h3>Result</h3>
                <Json value={result} />
              </div>
            ) : null}
            {state !== undefined ? (
              <div data-testid="actor-state">
                <h3>State</h3>
                <Json value={state} />
              </div>
            ) : null}
          </form>
        </>
      ) : null}
    </section>
  );
}
